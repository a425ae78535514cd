/* The data page: follow each background export until it is done, then offer its download link.
   Without this file the page shows each export's state when it was loaded (reload to update). */
(function () {
  "use strict";

  function number(n) {
    return Number(n || 0).toLocaleString("en-US");
  }

  function render(item, body) {
    item.setAttribute("data-status", body.status);
    item.querySelector(".export-status").textContent = body.status_label;
    var bar = item.querySelector(".bar");
    bar.setAttribute("aria-valuemax", body.rows_total);
    bar.setAttribute("aria-valuenow", body.rows_done);
    bar.firstElementChild.style.width = body.percent + "%";
    item.querySelector(".export-rows").textContent =
      number(body.rows_done) + " / " + number(body.rows_total) + " rows";
    var link = item.querySelector(".export-link");
    if (body.download_url) {
      link.textContent = "";
      var a = document.createElement("a");
      a.href = body.download_url;
      a.setAttribute("download", "");
      a.textContent = "Download " + String(body.format).toUpperCase();
      link.appendChild(a);
    } else if (body.status === "failed") {
      link.textContent = body.error;
      link.className = "export-link error";
    }
  }

  function follow(item) {
    var url = item.getAttribute("data-poll");
    var delay = 700;
    function tick() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) throw new Error("HTTP " + response.status);
          return response.json();
        })
        .then(function (body) {
          render(item, body);
          if (body.status === "queued" || body.status === "running") {
            delay = Math.min(delay * 1.3, 3000);
            window.setTimeout(tick, delay);
          }
        })
        .catch(function () {
          window.setTimeout(tick, 3000);
        });
    }
    tick();
  }

  function start() {
    document.querySelectorAll(".export[data-poll]").forEach(follow);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
