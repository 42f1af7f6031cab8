/* A form, or the button that sends it, with data-confirm asks first in the browser's own dialog;
   "Cancel" sends nothing. Without script the form is sent as it is (the server decides anyway).
   Listens on the document in the capture phase, so it runs before any other submit handler. */
document.addEventListener("submit", function (event) {
  var from = event.submitter && event.submitter.hasAttribute("data-confirm") ? event.submitter : event.target;
  var message = from && from.getAttribute && from.getAttribute("data-confirm");
  if (message && !window.confirm(message)) {
    event.preventDefault();
    event.stopImmediatePropagation();
  }
}, true);
