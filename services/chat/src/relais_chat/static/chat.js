// Progressive enhancement: answer without reloading the page. Without this file
// every step still works as a plain form POST followed by a redirect.
(function () {
  "use strict";
  var main = document.getElementById("main");
  if (!main || !window.fetch || !window.FormData || !window.DOMParser) return;

  function focusPrompt() {
    var now = document.getElementById("now");
    if (now) now.scrollIntoView({ block: "end", behavior: "smooth" });
    var target = main.querySelector("[data-focus]") || main.querySelector(".notice");
    if (target) {
      if (!target.hasAttribute("tabindex") && target.tagName === "P") target.setAttribute("tabindex", "-1");
      target.focus({ preventScroll: true });
    }
  }

  main.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || form.dataset.busy) return;
    event.preventDefault();
    form.dataset.busy = "1";
    var data = new FormData(form);
    if (event.submitter && event.submitter.name) data.append(event.submitter.name, event.submitter.value);
    var typing = document.createElement("li");
    typing.className = "bubble bot typing";
    typing.textContent = "…";
    var list = document.getElementById("transcript");
    if (list) list.appendChild(typing);
    Array.prototype.forEach.call(form.querySelectorAll("button"), function (b) { b.disabled = true; });
    fetch(location.pathname + location.search, { method: "POST", body: new URLSearchParams(data), credentials: "same-origin" })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        var page = new DOMParser().parseFromString(html, "text/html");
        var next = page.getElementById("main");
        if (!next) { location.reload(); return; }
        main.innerHTML = next.innerHTML;
        document.title = page.title;
        focusPrompt();
      })
      .catch(function () { form.submit(); });
  });

  if (location.hash === "#now") focusPrompt();
})();
