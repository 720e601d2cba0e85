//! The transports of ZITADEL's RPC paths (`POST /zitadel.<package>.<Service>/<Method>`), all on
//! the one listener, as ZITADEL serves them: gRPC (`application/grpc`, `+proto`; HTTP/2),
//! gRPC-web (`application/grpc-web`, `+proto`, and the base64 `application/grpc-web-text`),
//! Connect unary with a binary message (`application/proto`) and Connect unary JSON (any other
//! content type, `application/json` in practice).
//!
//! Invariants: the transport is chosen by the request's content type alone; a transport only
//! unframes and frames (the messages are converted by `proto`, the call made by the same
//! handlers as the REST routes), so every transport gives the same answer; an error is the
//! handler's one `ZitadelError`: `grpc-status` and `grpc-message` (percent-encoded) in the
//! headers of a trailers-only answer for gRPC, in the trailer frame for gRPC-web, and Connect's
//! JSON error body with its HTTP status for Connect; a unary call carries exactly one
//! uncompressed message.

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use http_body_util::{BodyExt as _, Full};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use super::errors::{Code, Envelope, ZitadelError};

/// What `grpc-message` percent-encodes besides every byte outside printable ASCII.
const GRPC_MESSAGE: &AsciiSet = &CONTROLS.add(b'%');

/// Flag of a gRPC-web frame that holds the trailers.
const TRAILER_FRAME: u8 = 0x80;

/// How a request reached an RPC path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Transport {
    /// Connect unary JSON: the REST handler's protojson in and out.
    Json,
    /// A binary transport; `proto` is false when the request names another codec.
    Binary { framing: Framing, proto: bool },
}

/// How a binary message is carried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// gRPC: one length-prefixed message; the status in trailers.
    Grpc(&'static str),
    /// gRPC-web: the same frames, the trailers in a last frame; `text` is base64 on the wire.
    GrpcWeb {
        content_type: &'static str,
        text: bool,
    },
    /// Connect unary: the message is the body.
    Connect,
}

impl Transport {
    /// The transport of a request, by its content type.
    pub(crate) fn of(headers: &HeaderMap) -> Transport {
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase())
            .unwrap_or_default();
        let binary = |framing, codec: &str| Transport::Binary {
            framing,
            proto: codec.is_empty() || codec == "+proto",
        };
        if let Some(codec) = content_type.strip_prefix("application/grpc-web-text") {
            let content_type = "application/grpc-web-text+proto";
            binary(
                Framing::GrpcWeb {
                    content_type,
                    text: true,
                },
                codec,
            )
        } else if let Some(codec) = content_type.strip_prefix("application/grpc-web") {
            let content_type = "application/grpc-web+proto";
            binary(
                Framing::GrpcWeb {
                    content_type,
                    text: false,
                },
                codec,
            )
        } else if let Some(codec) = content_type.strip_prefix("application/grpc") {
            let content_type = if codec.is_empty() {
                "application/grpc"
            } else {
                "application/grpc+proto"
            };
            binary(Framing::Grpc(content_type), codec)
        } else if content_type == "application/proto" {
            binary(Framing::Connect, "")
        } else {
            Transport::Json
        }
    }
}

impl Framing {
    /// The one message of a request body.
    pub(crate) fn unframe(self, proto: bool, body: Bytes) -> Result<Bytes, ZitadelError> {
        if !proto {
            return Err(ZitadelError::new(
                Code::Unimplemented,
                "RPC-codec",
                "only protobuf messages are served on this transport",
            ));
        }
        let framed = match self {
            Framing::Connect => return Ok(body),
            Framing::GrpcWeb { text: true, .. } => base64::engine::general_purpose::STANDARD
                .decode(body.trim_ascii())
                .map(Bytes::from)
                .map_err(|_| malformed("the gRPC-web-text body is not base64"))?,
            Framing::Grpc(_) | Framing::GrpcWeb { .. } => body,
        };
        let Some((&flags, rest)) = framed.split_first() else {
            return Err(malformed("a unary call carries exactly one message"));
        };
        let (length, message) = rest
            .split_first_chunk::<4>()
            .ok_or_else(|| malformed("the message frame is cut"))?;
        if flags & 1 != 0 {
            return Err(ZitadelError::new(
                Code::Unimplemented,
                "RPC-compression",
                "compressed messages are not supported",
            ));
        }
        if usize::try_from(u32::from_be_bytes(*length)).ok() != Some(message.len()) {
            return Err(malformed("a unary call carries exactly one message"));
        }
        Ok(framed.slice(5..))
    }

    /// The answer of a call: its message, or its error.
    pub(crate) fn respond(self, outcome: Result<Vec<u8>, ZitadelError>) -> Response {
        match self {
            Framing::Connect => match outcome {
                Ok(message) => (
                    [(header::CONTENT_TYPE, "application/proto")],
                    Bytes::from(message),
                )
                    .into_response(),
                Err(e) => e.in_envelope(Envelope::Connect).into_response(),
            },
            Framing::Grpc(content_type) => match outcome {
                Ok(message) => {
                    let trailers = status_headers(0, "");
                    let body = Full::new(frame(0, &message))
                        .with_trailers(async move { Some(Ok(trailers)) });
                    grpc_answer(content_type, HeaderMap::new(), Body::new(body))
                }
                // Trailers-only: the status in the headers, no message.
                Err(e) => {
                    let (code, message) = e.grpc_status();
                    let headers = status_headers(code, &message);
                    grpc_answer(content_type, headers, Body::empty())
                }
            },
            Framing::GrpcWeb { content_type, text } => {
                let (mut body, code, message) = match outcome {
                    Ok(message) => (frame(0, &message).to_vec(), 0, String::new()),
                    Err(e) => {
                        let (code, message) = e.grpc_status();
                        (Vec::new(), code, message)
                    }
                };
                let mut trailers = format!("grpc-status:{code}\r\n");
                if !message.is_empty() {
                    let encoded = utf8_percent_encode(&message, GRPC_MESSAGE);
                    trailers.push_str(&format!("grpc-message:{encoded}\r\n"));
                }
                body.extend_from_slice(&frame(TRAILER_FRAME, trailers.as_bytes()));
                if text {
                    body = base64::engine::general_purpose::STANDARD
                        .encode(&body)
                        .into_bytes();
                }
                grpc_answer(content_type, HeaderMap::new(), Body::from(body))
            }
        }
    }
}

fn malformed(message: &str) -> ZitadelError {
    ZitadelError::new(Code::InvalidArgument, "RPC-frame", message)
}

/// A length-prefixed frame.
fn frame(flags: u8, payload: &[u8]) -> Bytes {
    let length = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(payload.len() + 5);
    out.push(flags);
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(payload);
    Bytes::from(out)
}

/// `grpc-status` and, when there is one, `grpc-message`.
fn status_headers(code: u16, message: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        HeaderName::from_static("grpc-status"),
        HeaderValue::from(code),
    );
    let encoded = utf8_percent_encode(message, GRPC_MESSAGE).to_string();
    if let Ok(value) = HeaderValue::from_str(&encoded)
        && !encoded.is_empty()
    {
        headers.insert(HeaderName::from_static("grpc-message"), value);
    }
    headers
}

/// A gRPC or gRPC-web answer: HTTP 200 whatever the status, which is in its trailers.
fn grpc_answer(content_type: &'static str, headers: HeaderMap, body: Body) -> Response {
    let mut response = (StatusCode::OK, headers, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transport(content_type: &str) -> Transport {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(content_type).unwrap(),
        );
        Transport::of(&headers)
    }

    #[test]
    fn the_content_type_picks_the_transport() {
        assert_eq!(
            transport("application/grpc"),
            Transport::Binary {
                framing: Framing::Grpc("application/grpc"),
                proto: true
            }
        );
        assert_eq!(
            transport("application/grpc+json"),
            Transport::Binary {
                framing: Framing::Grpc("application/grpc+proto"),
                proto: false
            }
        );
        assert!(matches!(
            transport("application/grpc-web-text+proto"),
            Transport::Binary {
                framing: Framing::GrpcWeb { text: true, .. },
                proto: true
            }
        ));
        assert!(matches!(
            transport("application/grpc-web+proto"),
            Transport::Binary {
                framing: Framing::GrpcWeb { text: false, .. },
                proto: true
            }
        ));
        assert_eq!(
            transport("application/proto"),
            Transport::Binary {
                framing: Framing::Connect,
                proto: true
            }
        );
        assert_eq!(
            transport("application/json; charset=utf-8"),
            Transport::Json
        );
        assert_eq!(Transport::of(&HeaderMap::new()), Transport::Json);
    }

    #[test]
    fn one_uncompressed_message_is_unframed() {
        let grpc = Framing::Grpc("application/grpc");
        let body = Bytes::from_static(&[0, 0, 0, 0, 2, 8, 5]);
        assert_eq!(&grpc.unframe(true, body).unwrap()[..], &[8, 5]);
        let empty = Bytes::from_static(&[0, 0, 0, 0, 0]);
        assert!(grpc.unframe(true, empty).unwrap().is_empty());
        for bad in [
            &[][..],
            &[0, 0, 0],
            &[0, 0, 0, 0, 3, 8, 5],
            &[1, 0, 0, 0, 0],
        ] {
            assert!(grpc.unframe(true, Bytes::from_static(bad)).is_err());
        }
        let text = Framing::GrpcWeb {
            content_type: "application/grpc-web-text+proto",
            text: true,
        };
        assert_eq!(
            &text
                .unframe(true, Bytes::from_static(b"AAAAAAIIBQ=="))
                .unwrap()[..],
            &[8, 5]
        );
    }

    #[tokio::test]
    async fn grpc_web_errors_are_a_trailer_frame() {
        let web = Framing::GrpcWeb {
            content_type: "application/grpc-web+proto",
            text: false,
        };
        let error = ZitadelError::new(Code::NotFound, "X-1", "no 100% match");
        let response = web.respond(Err(error));
        assert_eq!(response.status(), StatusCode::OK);
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        assert_eq!(body[0], TRAILER_FRAME);
        assert_eq!(
            &body[5..],
            b"grpc-status:5\r\ngrpc-message:no 100%25 match (X-1)\r\n"
        );
    }
}
