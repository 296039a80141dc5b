/* Stocktake page: scanning with the camera, where the browser can read QR codes itself.
 *
 * Chromium's BarcodeDetector exists on Android, ChromeOS and macOS (not on Linux or Windows
 * desktops). Where it does, a camera button appears; everywhere the typed field stays, and a USB
 * scanner types into it. Nothing is loaded from elsewhere: this file is the app's own (the
 * Content-Security-Policy allows scripts only from the app).
 *
 * A location label sets where the next assets are; an asset label is sent at once with that
 * location (the scan form's fields, posted with HX-Request so the answer is one result line and
 * the camera keeps running); a supply label fills the supply count's item field. The same code
 * seen again within 3 seconds is the same label still in front of the camera, not a new scan.
 */
(function () {
  "use strict";
  var box = document.getElementById("camera");
  if (!box || !("BarcodeDetector" in window) || !navigator.mediaDevices ||
      !navigator.mediaDevices.getUserMedia) {
    return; // typed entry only; the page says so
  }
  var form = document.getElementById(box.dataset.form);
  var codeField = document.getElementById(box.dataset.code);
  var placeField = document.getElementById(box.dataset.location);
  var itemField = document.getElementById(box.dataset.item);
  var start = box.querySelector("button.start");
  var stop = box.querySelector("button.stop");
  var video = box.querySelector("video");
  var status = box.querySelector(".status");
  var detector = null;
  var stream = null;
  var timer = null;
  var last = "";
  var lastAt = 0;
  var busy = false;

  box.hidden = false;
  var note = form.querySelector(".no-camera");
  if (note) {
    note.hidden = true;
  }

  function say(text, level) {
    status.textContent = text;
    status.className = "status " + (level || "");
  }

  // A label holds the bare code or a URL ending in /c/<code>.
  function codeOf(text) {
    var code = String(text || "").trim();
    var at = code.lastIndexOf("/c/");
    if (at >= 0) {
      code = code.slice(at + 3);
    }
    return code.split(/[?#]/)[0].toUpperCase();
  }

  function send(code) {
    busy = true;
    codeField.value = code;
    var data = new FormData(form);
    fetch(form.action, {method: "POST", body: data, headers: {"HX-Request": "true"},
                        credentials: "same-origin"})
      .then(function (answer) { return answer.text().then(function (html) { return [answer.ok, html]; }); })
      .then(function (got) {
        var holder = document.createElement("div");
        holder.innerHTML = got[1];
        say(holder.textContent.trim(), got[0] ? "ok" : "error");
      })
      .catch(function () { say(box.dataset.offline || "?", "error"); })
      .then(function () { busy = false; codeField.value = ""; });
  }

  function seen(text) {
    var code = codeOf(text);
    var now = Date.now();
    if (code === last && now - lastAt < 3000) {
      return;
    }
    last = code;
    lastAt = now;
    if (code.indexOf("L-") === 0) {
      placeField.value = code;
      say(code, "info");
    } else if (code.indexOf("S-") === 0 && itemField) {
      itemField.value = code;
      itemField.focus();
      say(code, "info");
    } else {
      send(code);
    }
  }

  function tick() {
    if (!stream) {
      return;
    }
    if (busy || video.readyState < 2) {
      timer = setTimeout(tick, 200);
      return;
    }
    detector.detect(video).then(function (found) {
      if (found.length) {
        seen(found[0].rawValue);
      }
    }).catch(function () { /* a frame it could not read: try the next */ })
      .then(function () { timer = setTimeout(tick, 200); });
  }

  function halt() {
    clearTimeout(timer);
    if (stream) {
      stream.getTracks().forEach(function (track) { track.stop(); });
    }
    stream = null;
    video.hidden = true;
    stop.hidden = true;
    start.hidden = false;
  }

  start.addEventListener("click", function () {
    detector = detector || new window.BarcodeDetector({formats: ["qr_code"]});
    navigator.mediaDevices.getUserMedia({video: {facingMode: "environment"}, audio: false})
      .then(function (got) {
        stream = got;
        video.srcObject = got;
        video.hidden = false;
        start.hidden = true;
        stop.hidden = false;
        return video.play();
      })
      .then(tick)
      .catch(function (problem) { halt(); say(String(problem && problem.name || problem), "error"); });
  });
  stop.addEventListener("click", halt);
  window.addEventListener("pagehide", halt);
}());
