// Refuses a file over the size limit before sending it, and shows upload progress.
(function () {
  const form = document.getElementById("upload-form");
  const input = form.querySelector("input[type=file][data-max-bytes]");
  const problem = document.getElementById("upload-client-error");
  const bar = document.getElementById("upload-progress");
  form.addEventListener("submit", (event) => {
    const file = input.files[0];
    const limit = Number(input.dataset.maxBytes);
    if (file && limit && file.size > limit) {
      event.preventDefault();
      problem.textContent = `The file is larger than the ${Math.round(limit / 1048576)} MiB this portal accepts.`;
      problem.hidden = false;
      return;
    }
    if (!window.XMLHttpRequest || !file) return;
    event.preventDefault();
    const request = new XMLHttpRequest();
    request.open("POST", form.action || window.location.href);
    request.upload.addEventListener("progress", (e) => { if (e.lengthComputable) { bar.hidden = false; bar.value = (e.loaded * 100) / e.total; } });
    request.addEventListener("load", () => { document.open(); document.write(request.responseText); document.close();
      if (request.responseURL) history.replaceState(null, "", request.responseURL); });
    request.addEventListener("error", () => { problem.textContent = "The upload was interrupted. Please try again."; problem.hidden = false; });
    request.send(new FormData(form));
  });
})();
