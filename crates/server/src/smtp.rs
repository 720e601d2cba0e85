//! Delivery of the mail outbox over SMTP (lettre), and the loop that runs it.
//!
//! Invariants: the SMTP password is only handed to lettre, never logged; a message body (it may
//! carry a one-time token) is never logged; an unreachable or refusing server leaves the mail in
//! the outbox for a later retry (the service decides when).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use lettre::Address;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use portcullis_service::{MailTransport, OutgoingMail, SendError, Service};

use crate::config::{SmtpConfig, SmtpTls};

/// Sends mails to the configured SMTP server.
pub struct SmtpTransport {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SmtpTransport {
    /// The transport of `config`; `None` when no `smtp.host` is set.
    pub fn new(config: &SmtpConfig) -> Result<Option<SmtpTransport>, String> {
        let Some(host) = config.host.as_deref() else {
            return Ok(None);
        };
        let from: Mailbox = config
            .from
            .parse()
            .map_err(|e| format!("smtp.from `{}`: {e}", config.from))?;
        let builder = match config.tls {
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
            SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
                .map_err(|e| format!("smtp.host `{host}`: {e}"))?,
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host)
                .map_err(|e| format!("smtp.host `{host}`: {e}"))?,
        };
        let mut builder = builder
            .port(config.port)
            .timeout(Some(Duration::from_secs(config.timeout_secs.max(1))));
        match (&config.username, &config.password) {
            (Some(user), Some(password)) => {
                builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
            }
            (None, None) => {}
            _ => return Err("smtp.username and smtp.password go together".into()),
        }
        Ok(Some(SmtpTransport {
            transport: builder.build(),
            from,
        }))
    }
}

#[async_trait]
impl MailTransport for SmtpTransport {
    async fn send(&self, mail: &OutgoingMail) -> Result<(), SendError> {
        let mut message = Message::builder()
            .from(self.from.clone())
            .subject(mail.subject.clone())
            .header(ContentType::TEXT_PLAIN);
        // Bare addresses only (a display-name form could route the mail elsewhere than the
        // address on record); several recipients (administrators) do not see each other.
        let several = mail.to.len() > 1;
        for to in &mail.to {
            let address: Address = to.parse().map_err(|e| {
                SendError::permanent(format!("recipient address is not valid: {e}"))
            })?;
            let mailbox = Mailbox::new(None, address);
            message = if several {
                message.bcc(mailbox)
            } else {
                message.to(mailbox)
            };
        }
        let message = message
            .body(mail.body.to_string())
            .map_err(|e| SendError::permanent(format!("message: {e}")))?;
        self.transport.send(message).await.map(|_| ()).map_err(|e| {
            let text = format!("SMTP: {e}");
            if e.is_permanent() {
                SendError::permanent(text)
            } else {
                SendError::temporary(text)
            }
        })
    }
}

/// Looks at the outbox every `interval` seconds and sends what is due (0 = never).
pub(crate) async fn deliver_periodically(
    service: Arc<Service>,
    transport: Arc<dyn MailTransport>,
    interval: u64,
    batch: u32,
) {
    if interval == 0 {
        return;
    }
    let mut tick = tokio::time::interval(Duration::from_secs(interval));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        // Full batches mean more is due: keep going until a batch comes back short.
        loop {
            match service.deliver_mail(&*transport, batch.max(1)).await {
                Ok(report)
                    if report.sent + report.failed + report.given_up >= u64::from(batch.max(1)) => {
                }
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "mail delivery round failed; next one in {interval} s");
                    break;
                }
            }
        }
    }
}
