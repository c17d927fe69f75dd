/*
 * Staff round dashboard: draws the page's plotly figures and follows a running round.
 *
 * Figures: every element with a data-figure attribute names a <script type="application/json">
 * block (written by Django's json_script) that holds a plotly figure ({data, layout}); it is
 * drawn with Plotly.newPlot. This file does not depend on static/js/charts.js.
 *
 * Progress: when the page has a "round-live" JSON block ({progress_url, status, finished,
 * poll_ms, stale_after_s}) and the round is unfinished, progress.json is fetched every poll_ms
 * (2 s) and the bar, stage and heartbeat age are updated in place, with a warning once the
 * heartbeat is older than stale_after_s. When the status becomes a finished one the page reloads
 * once to show the results.
 */
(function () {
  "use strict";

  function readJson(id) {
    const element = document.getElementById(id);
    return element ? JSON.parse(element.textContent) : null;
  }

  function drawFigures() {
    const targets = document.querySelectorAll("[data-figure]");
    if (targets.length === 0) {
      return;
    }
    if (typeof window.Plotly === "undefined") {
      targets.forEach(function (target) {
        target.textContent = "The charting library did not load; the numbers are in the tables.";
      });
      return;
    }
    targets.forEach(function (target) {
      const figure = readJson(target.dataset.figure);
      if (figure === null) {
        return;
      }
      target.textContent = "";
      window.Plotly.newPlot(target, figure.data, figure.layout, {
        responsive: true,
        displaylogo: false,
      });
    });
  }

  function setText(id, text) {
    const element = document.getElementById(id);
    if (element) {
      element.textContent = text;
    }
  }

  function describeAge(seconds) {
    if (seconds === null || seconds === undefined) {
      return "not yet";
    }
    if (seconds < 90) {
      return Math.round(seconds) + " s ago";
    }
    return Math.round(seconds / 60) + " min ago";
  }

  function capitalize(text) {
    return text ? text.charAt(0).toUpperCase() + text.slice(1) : text;
  }

  function showProgress(state) {
    const percent = Math.round(Math.max(0, Math.min(1, state.progress || 0)) * 100);
    const bar = document.getElementById("live-bar");
    if (bar) {
      bar.value = percent;
      bar.textContent = percent + "%";
    }
    setText("live-percent", percent + "%");
    setText("live-stage", state.stage || "not started");
    setText("live-heartbeat", describeAge(state.heartbeat_age_s));
    const status = document.getElementById("live-status");
    if (status) {
      status.textContent = capitalize(state.status);
      status.className = "status status-" + state.status;
    }
  }

  function showMessage(text) {
    const message = document.getElementById("live-message");
    if (message) {
      message.textContent = text;
      message.hidden = !text;
    }
  }

  function staleWarning(state, staleAfterSeconds) {
    const age = state.heartbeat_age_s;
    const beating = age === null || age === undefined || age < staleAfterSeconds;
    if (state.status !== "running" || beating) {
      return "";
    }
    return (
      "No heartbeat for " + describeAge(age).replace(" ago", "") + ": the worker may have " +
      "stopped. A redelivered task can take the round over and resume from the artefact store."
    );
  }

  function followRound() {
    const live = readJson("round-live");
    if (live === null || live.finished.indexOf(live.status) !== -1) {
      return;
    }
    let reloading = false;

    async function poll() {
      try {
        const response = await fetch(live.progress_url, {
          credentials: "same-origin",
          cache: "no-store",
          headers: { Accept: "application/json" },
        });
        if (!response.ok) {
          throw new Error("the server answered " + response.status);
        }
        const state = await response.json();
        showProgress(state);
        showMessage(staleWarning(state, live.stale_after_s));
        if (state.status !== live.status && live.finished.indexOf(state.status) !== -1) {
          if (!reloading) {
            reloading = true;
            showMessage("The round is " + state.status + "; loading the results…");
            window.location.reload();
          }
          return; // finished: stop polling
        }
        live.status = state.status;
      } catch (error) {
        showMessage("Could not refresh the progress (" + error.message + "); retrying.");
      }
      window.setTimeout(poll, live.poll_ms);
    }

    window.setTimeout(poll, live.poll_ms);
  }

  function start() {
    drawFigures();
    followRound();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
