/* importhub staff pages: progressive enhancement only. Every page works without this file. */
(function () {
  "use strict";

  var FINAL = [0, 2, 6, 8, 9];
  var BATCH_ACTIVE = ["pending", "processing"];
  var BATCH_LABELS = {
    pending: "Pending",
    processing: "Processing",
    completed: "Completed",
    completed_with_errors: "Completed with errors",
    failed: "Failed",
    checked: "Checked",
  };

  function number(n) {
    return Number(n || 0).toLocaleString("en-US");
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "className") node.className = attrs[key];
      else node.setAttribute(key, attrs[key]);
    });
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function csrfToken(form) {
    var input = form.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  /* --- Progress: one bar per file, from GET /api/jobs/<batch_id> --------------------------- */

  function jobItem(list, file) {
    var item = list.querySelector('[data-job-id="' + file.id + '"]');
    if (item) return item;
    var name = file.filename || file.table_name + " (no file)";
    item = el("li", { className: "job", "data-job-id": file.id, "data-file": file.filename || "" });
    var head = el("div", { className: "job-head" });
    head.appendChild(el("span", { className: "job-name" }, name));
    head.appendChild(el("span", { className: "badge job-status" }));
    item.appendChild(head);
    var bar = el("div", {
      className: "bar",
      role: "progressbar",
      "aria-label": name + " progress",
      "aria-valuemin": "0",
    });
    bar.appendChild(el("span"));
    item.appendChild(bar);
    var counts = el("div", { className: "job-counts" });
    counts.appendChild(el("span", { className: "job-rows" }));
    counts.appendChild(el("span", { className: "job-success" }));
    counts.appendChild(el("span", { className: "job-rejected" }));
    item.appendChild(counts);
    list.appendChild(item);
    return item;
  }

  function jobUpdate(item, file) {
    var total = Number(file.total_rows || 0);
    var done = Number(file.processed_rows || 0);
    var percent = total ? Math.min(100, Math.round((done * 100) / total)) : file.status === 9 ? 100 : 0;
    item.setAttribute("data-status", file.status);
    if (file.error_count) item.setAttribute("data-errors", "");
    else item.removeAttribute("data-errors");
    item.querySelector(".job-status").textContent = file.status_label;
    var bar = item.querySelector(".bar");
    bar.setAttribute("aria-valuemax", total);
    bar.setAttribute("aria-valuenow", done);
    bar.firstElementChild.style.width = percent + "%";
    item.querySelector(".job-rows").textContent = number(done) + " / " + number(total) + " rows";
    item.querySelector(".job-success").textContent =
      number(file.success_count) + (file.reverted ? " reverted" : " imported");
    item.querySelector(".job-rejected").textContent = number(file.error_count) + " rejected";
  }

  function batchRender(list, batch, badge) {
    batch.files.forEach(function (file) {
      jobUpdate(jobItem(list, file), file);
    });
    if (badge) {
      badge.setAttribute("data-batch-status", batch.status);
      badge.textContent = BATCH_LABELS[batch.status] || batch.status;
    }
  }

  /* Poll until every file of the batch is final, slowing down a little while it runs. */
  function batchPoll(url, onBatch, onDone) {
    var delay = 700;
    function tick() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) throw new Error("HTTP " + response.status);
          return response.json();
        })
        .then(function (body) {
          var batch = body.data;
          onBatch(batch);
          var running = BATCH_ACTIVE.indexOf(batch.status) !== -1 ||
            batch.files.some(function (f) { return FINAL.indexOf(f.status) === -1; });
          if (running) {
            delay = Math.min(delay * 1.3, 3000);
            window.setTimeout(tick, delay);
          } else if (onDone) {
            onDone(batch);
          }
        })
        .catch(function () {
          window.setTimeout(tick, 3000);
        });
    }
    tick();
  }

  /* --- Upload page -------------------------------------------------------------------------- */

  function resultsRender(section, files, warnings) {
    var body = section.querySelector("#results-table tbody");
    body.textContent = "";
    files.forEach(function (r) {
      var row = el("tr", { "data-valid": r.valid ? "true" : "false" });
      row.appendChild(el("td", { className: "mono" }, r.filename));
      row.appendChild(el("td", {}, r.table_name || "—"));
      var result = el("td");
      result.appendChild(el("span", { className: "badge " + (r.valid ? "ok" : "bad") }, r.valid ? "Valid" : "Invalid"));
      row.appendChild(result);
      row.appendChild(el("td", { className: "num" }, number(r.rows)));
      var details = el("td", {}, r.error || "");
      (r.warnings || []).forEach(function (w) {
        details.appendChild(el("div", { className: "muted small" }, w));
      });
      row.appendChild(details);
      body.appendChild(row);
    });
    var list = section.querySelector("#results-warnings");
    list.textContent = "";
    (warnings || []).forEach(function (w) {
      list.appendChild(el("li", {}, w));
    });
    var link = section.querySelector("#batch-link");
    if (link) link.remove();
    section.hidden = false;
  }

  function uploadError(form, message) {
    var box = form.querySelector("#upload-error");
    box.textContent = "";
    if (message) box.appendChild(el("div", { className: "form-errors" }, message));
  }

  function uploadSetup(form) {
    var input = form.querySelector("input[type=file]");
    var zone = form.querySelector("#dropzone");
    var chosen = form.querySelector("#chosen-files");
    var button = form.querySelector("#upload-button");
    var state = form.querySelector("#upload-state");
    var uploadBar = form.querySelector("#upload-bar");
    var results = document.getElementById("results");
    var live = document.getElementById("live");

    function showChosen() {
      chosen.textContent = "";
      Array.prototype.forEach.call(input.files, function (file) {
        chosen.appendChild(el("li", {}, file.name + " · " + number(Math.ceil(file.size / 1024)) + " KB"));
      });
    }
    input.addEventListener("change", showChosen);
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function () { zone.classList.add("dragging"); });
    });
    ["dragleave", "drop"].forEach(function (name) {
      zone.addEventListener(name, function () { zone.classList.remove("dragging"); });
    });

    function busy(on, text) {
      button.disabled = on;
      state.textContent = text || "";
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      uploadError(form, "");
      var data = new FormData(form);
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.getAttribute("data-api-import"));
      xhr.setRequestHeader("X-CSRFToken", csrfToken(form));
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.addEventListener("progress", function (e) {
        if (!e.lengthComputable) return;
        uploadBar.hidden = false;
        uploadBar.firstElementChild.style.width = Math.round((e.loaded * 100) / e.total) + "%";
        busy(true, e.loaded < e.total ? "Uploading… " + Math.round((e.loaded * 100) / e.total) + "%" : "Validating…");
      });
      xhr.addEventListener("load", function () {
        uploadBar.hidden = true;
        busy(false, "");
        var body;
        try {
          body = JSON.parse(xhr.responseText);
        } catch (err) {
          uploadError(form, "The server answered " + xhr.status + ". Please try again.");
          return;
        }
        var inner = body.data || {};
        var files = body.files || inner.validation || [];
        var warnings = body.warnings || inner.warnings || [];
        var batchId = body.batch_id || inner.batch_id;
        if (!files.length) {
          uploadError(form, body.error || "The upload failed.");
          if (warnings.length) resultsRender(results, [], warnings);
          return;
        }
        resultsRender(results, files, warnings);
        if (body.error) uploadError(form, body.error);
        if (body.mode !== "quick" && batchId) liveStart(batchId);
        form.reset();
        showChosen();
      });
      xhr.addEventListener("error", function () {
        uploadBar.hidden = true;
        busy(false, "");
        uploadError(form, "The upload did not reach the server. Check the connection and try again.");
      });
      busy(true, "Uploading…");
      xhr.send(data);
    });

    function liveStart(batchId) {
      var list = live.querySelector("#live-jobs");
      var badge = live.querySelector("#live-status");
      var link = live.querySelector("#live-link");
      list.textContent = "";
      link.href = form.getAttribute("data-batches") + batchId + "/";
      live.hidden = false;
      batchPoll(
        form.getAttribute("data-api-jobs") + "/" + batchId,
        function (batch) { batchRender(list, batch, badge); },
        function () { link.classList.add("primary"); }
      );
    }
  }

  /* --- Batch page: refresh the bars while the batch runs, then reload for the summaries ------- */

  function batchPageSetup(list) {
    var badge = document.getElementById("batch-status");
    batchPoll(
      list.getAttribute("data-poll"),
      function (batch) { batchRender(list, batch, badge); },
      function () { window.location.reload(); }
    );
  }

  /* --- Configuration: show only the rules that fit the chosen type; add formset rows ---------- */

  function typeFieldsSync(select) {
    var scope = select.closest("tr") || select.closest("form");
    if (!scope) return;
    scope.querySelectorAll("[data-for-types]").forEach(function (input) {
      var fits = input.getAttribute("data-for-types").split(" ").indexOf(select.value) !== -1;
      var holder = input.closest("td") || input.closest(".field");
      if (holder) holder.classList.toggle("is-off", !fits);
    });
  }

  function typeFieldsSetup(root) {
    root.querySelectorAll('select[name$="data_type"]').forEach(function (select) {
      typeFieldsSync(select);
      select.addEventListener("change", function () { typeFieldsSync(select); });
    });
  }

  function formsetSetup(button) {
    var prefix = button.getAttribute("data-formset-add");
    var body = document.querySelector('[data-formset="' + prefix + '"] tbody');
    var template = document.querySelector('[data-formset-template="' + prefix + '"]');
    var total = document.querySelector("#id_" + prefix + "-TOTAL_FORMS");
    if (!body || !template || !total) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      var index = Number(total.value);
      var holder = document.createElement("tbody");
      holder.innerHTML = template.innerHTML.replace(/__prefix__/g, String(index));
      var row = holder.firstElementChild;
      body.appendChild(row);
      total.value = String(index + 1);
      typeFieldsSetup(row);
      var first = row.querySelector("input, select");
      if (first) first.focus();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("upload-form");
    if (form) uploadSetup(form);
    var list = document.querySelector("#batch-jobs[data-poll]");
    if (list) batchPageSetup(list);
    document.querySelectorAll("[data-formset-add]").forEach(formsetSetup);
    typeFieldsSetup(document);
  });
})();
