// portcullis pages: the only script. Every page works without it; with it, a new password is
// checked against the organization's rules while it is typed (the same dry run the server runs
// when the form is sent).
(function () {
  "use strict";
  function debounce(fn, ms) {
    var t;
    return function () { clearTimeout(t); t = setTimeout(fn, ms); };
  }
  // The login name the attribute rules compare with: the signed-in user's, or the one typed.
  function typedLogin(input) {
    var field = input.getAttribute("data-login-field");
    var typed = field && document.getElementById(field);
    return (typed ? typed.value : input.getAttribute("data-login")) || null;
  }
  document.querySelectorAll("input[data-password-check]").forEach(function (input) {
    var form = input.form;
    var csrf = form && form.querySelector("input[name=csrf]");
    var live = document.getElementById(input.id + "-live");
    if (!csrf || !live) return;
    var url = input.getAttribute("data-password-check");
    var check = debounce(function () {
      if (!input.value) { live.textContent = ""; return; }
      fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "content-type": "application/json", "x-csrf-token": csrf.value },
        body: JSON.stringify({ password: input.value, login: typedLogin(input) })
      }).then(function (r) { return r.ok ? r.json() : null; }).then(function (answer) {
        if (!answer) return;
        live.textContent = "";
        if (answer.valid) {
          var ok = document.createElement("li");
          ok.className = "ok";
          ok.textContent = "This password meets every rule.";
          live.appendChild(ok);
          return;
        }
        answer.violations.forEach(function (v) {
          var li = document.createElement("li");
          li.textContent = v.message;
          li.setAttribute("data-code", v.code);
          live.appendChild(li);
        });
      }).catch(function () { /* the server checks again when the form is sent */ });
    }, 250);
    input.addEventListener("input", check);
  });
})();
