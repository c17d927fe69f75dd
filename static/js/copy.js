// "Copy" buttons: <button data-copy="ID"> copies the value of the input #ID to the clipboard.
(function () {
  "use strict";
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var id = button.getAttribute("data-copy");
      var input = document.getElementById(id);
      var status = document.querySelector('[data-copy-status="' + id + '"]');
      var say = function (text) { if (status) { status.textContent = text; } };
      input.select();
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(input.value).then(
          function () { say("Copied to the clipboard."); },
          function () { say("Press Ctrl+C (⌘C) to copy the selected key."); }
        );
      } else {
        say("Press Ctrl+C (⌘C) to copy the selected key.");
      }
    });
  });
})();
