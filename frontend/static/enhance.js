// Lianming's only script. Every page works without it; it only enhances:
// - `button[data-copy]` copies the text of its attribute (a link) to the clipboard;
// - `form[data-progress]` (a file upload) is sent in the background with a progress bar, then
//   the browser follows the server's answer exactly as a plain form post would.
(function () {
  'use strict';

  document.querySelectorAll('button[data-copy]').forEach(function (button) {
    button.hidden = false;
    button.addEventListener('click', function () {
      var text = button.getAttribute('data-copy');
      var done = function () {
        var label = button.textContent;
        button.textContent = button.getAttribute('data-copied') || label;
        setTimeout(function () { button.textContent = label; }, 2000);
      };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(text).then(done, function () { window.prompt('', text); });
      } else {
        window.prompt('', text);
      }
    });
  });

  document.querySelectorAll('form[data-progress]').forEach(function (form) {
    var bar = form.querySelector('progress');
    form.addEventListener('submit', function (event) {
      if (!window.FormData || !window.XMLHttpRequest) return;
      var files = form.querySelectorAll('input[type=file]');
      var any = Array.prototype.some.call(files, function (f) { return f.files && f.files.length; });
      if (!any) return;
      event.preventDefault();
      var xhr = new XMLHttpRequest();
      xhr.open('POST', form.action);
      if (bar) {
        bar.hidden = false;
        bar.value = 0;
        xhr.upload.addEventListener('progress', function (e) {
          if (e.lengthComputable) bar.value = e.loaded / e.total;
        });
      }
      form.querySelectorAll('button').forEach(function (b) { b.disabled = true; });
      xhr.addEventListener('load', function () {
        // The server answered a redirect (followed) or a page with errors: show what it says.
        if (xhr.responseURL && xhr.responseURL !== form.action) {
          window.location.assign(xhr.responseURL);
        } else {
          document.open();
          document.write(xhr.responseText);
          document.close();
        }
      });
      xhr.addEventListener('error', function () {
        form.querySelectorAll('button').forEach(function (b) { b.disabled = false; });
        if (bar) bar.hidden = true;
      });
      xhr.send(new FormData(form));
    });
  });
})();
