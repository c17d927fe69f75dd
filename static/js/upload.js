// Upload progress for the data-group upload form (progressive enhancement).
//
// Without this script the form posts as a normal multipart form. With it, the same request is
// sent by XMLHttpRequest so that a progress bar can show the bytes sent; the server's answer is
// honoured as the browser would honour it:
//   - success: the server answers {"redirect": URL} (it sees X-Requested-With) and the page
//     goes there, where the "Uploaded N images" message waits;
//   - a refused upload or a form error: the returned page's main content replaces this one, so
//     the errors stand next to their fields;
//   - any other redirect (an expired session, say): the browser follows it.
(function () {
  "use strict";

  function formatBytes(n) {
    // The server's units (marketplace/uploads/limits.py format_bytes): bytes, KiB, MiB.
    var MIB = 1024 * 1024;
    var trim = function (text) { return text.replace(/\.0 /, " "); };
    if (n >= MIB) { return trim((n / MIB).toFixed(1) + " MiB"); }
    if (n >= 1024) { return trim((n / 1024).toFixed(1) + " KiB"); }
    return n + " bytes";
  }

  function chosenFiles(root) {
    var chosen = {};
    root.querySelectorAll("form.upload-form input[type=file]").forEach(function (input) {
      if (input.files && input.files.length) { chosen[input.name] = input.files; }
    });
    return chosen;
  }

  function keepFiles(root, chosen) {
    // The page that comes back cannot hold files; this one still has them, so carry them over
    // (a browser that refuses says so through the page's own "choose them again" note).
    var kept = 0;
    root.querySelectorAll("form.upload-form input[type=file]").forEach(function (input) {
      if (!chosen[input.name]) { return; }
      try { input.files = chosen[input.name]; kept += input.files.length; } catch (error) { /* keep the note */ }
    });
    var note = root.querySelector("[data-files-note]");
    if (kept && note) {
      note.textContent = "The files you chose are still selected: fix what is marked and upload again, or choose other files.";
    }
  }

  function replaceMain(html) {
    var page = new DOMParser().parseFromString(html, "text/html");
    var incoming = page.querySelector("main");
    var main = document.querySelector("main");
    if (!incoming || !main) { return false; }
    var chosen = chosenFiles(main);
    main.innerHTML = incoming.innerHTML;
    if (page.title) { document.title = page.title; }
    keepFiles(main, chosen);
    enhance(main);
    var alert = main.querySelector("[role=alert], .has-error");
    (alert || main).scrollIntoView({ block: "start" });
    var field = main.querySelector(".has-error input, .has-error select, .has-error textarea");
    if (field) { field.focus({ preventScroll: true }); }
    return true;
  }

  function enhance(root) {
    var form = root.querySelector("form.upload-form");
    if (!form || !window.FormData || !window.XMLHttpRequest || form.dataset.enhanced) { return; }
    form.dataset.enhanced = "1";
    var box = root.querySelector("[data-upload-progress]");
    var bar = box && box.querySelector("progress");
    var text = box && box.querySelector("[data-upload-progress-text]");
    var status = box && box.querySelector("[data-upload-progress-status]");
    var announced = -1;
    var submit = form.querySelector("button[type=submit]");
    var label = submit ? submit.textContent : "";

    function show(sent, total) {
      var percent = total ? Math.floor((100 * sent) / total) : 0;
      bar.value = percent;
      bar.setAttribute("aria-valuetext", percent + "%");
      text.textContent = formatBytes(sent) + " of " + formatBytes(total) + " sent (" + percent + "%)";
      var step = Math.floor(percent / 25) * 25; // a screen reader hears 0, 25, 50, 75, 100%
      if (step !== announced) { announced = step; status.textContent = "Upload " + step + "% sent"; }
    }

    function finish(message) {
      form.removeAttribute("aria-busy");
      if (submit) { submit.disabled = false; submit.textContent = label; }
      if (message) { text.textContent = message; status.textContent = message; }
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var url = form.getAttribute("action") || window.location.href;
      var request = new XMLHttpRequest();
      request.open("POST", url);
      request.setRequestHeader("X-Requested-With", "XMLHttpRequest");
      request.upload.addEventListener("progress", function (progress) {
        if (progress.lengthComputable) { show(progress.loaded, progress.total); }
      });
      request.upload.addEventListener("load", function () {
        text.textContent = "Sent. Checking the images…";
        status.textContent = text.textContent;
      });
      request.addEventListener("load", function () {
        var type = request.getResponseHeader("Content-Type") || "";
        if (type.indexOf("application/json") === 0) {
          var answer = null;
          try { answer = JSON.parse(request.responseText); } catch (error) { answer = null; }
          if (answer && answer.redirect) { window.location.assign(answer.redirect); return; }
        }
        var requested = new URL(url, window.location.href).href;
        if (request.responseURL && request.responseURL !== requested) {
          window.location.assign(request.responseURL); // redirected (e.g. to sign in again)
          return;
        }
        if (type.indexOf("text/html") === 0 && replaceMain(request.responseText)) { return; }
        finish("The upload failed (the server answered " + request.status + "). Nothing was saved; try again.");
      });
      request.addEventListener("error", function () {
        finish("The upload was interrupted (no connection to the server). Nothing was saved; try again.");
      });
      request.addEventListener("abort", function () { finish("The upload was cancelled."); });
      box.hidden = false;
      form.setAttribute("aria-busy", "true");
      if (submit) { submit.disabled = true; submit.textContent = "Uploading…"; }
      announced = -1;
      show(0, 0);
      text.textContent = "Starting the upload…";
      request.send(new FormData(form));
    });
  }

  enhance(document);
})();
