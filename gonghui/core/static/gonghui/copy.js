/* A button with data-copy="<id of an input>" copies that input's text. The button is shown only
   where this script runs; without it the text stays selectable by hand. The clipboard API needs a
   secure page (HTTPS or localhost); on a plain-HTTP intranet the older copy command is used. */
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var field = document.getElementById(button.getAttribute("data-copy"));
    if (!field) return;
    var label = button.textContent;
    button.hidden = false;
    button.addEventListener("click", function () {
      var done = function () {
        button.textContent = button.getAttribute("data-copied") || label;
        setTimeout(function () { button.textContent = label; }, 2000);
      };
      var fallback = function () {
        field.focus();
        field.select();
        try { if (document.execCommand("copy")) done(); } catch (e) { /* selected: copy by hand */ }
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(done, fallback);
      } else {
        fallback();
      }
    });
  });
});
