/*
 * Staff round dashboard: draws the page's plotly figures and follows a running round.
 *
 * Figures: every element with a data-figure attribute names a <script type="application/json">
 * block (written by Django's json_script) that holds a plotly figure ({data, layout, narrow}); it
 * is drawn with Plotly.newPlot. Where the drawing area is narrower than NARROW_PX (a phone), the
 * figure's "narrow" layout changes (wrapped title, small margins, legend under the plot) are
 * merged into its layout first. This file does not depend on static/js/charts.js.
 *
 * Progress: when the page has a "round-live" JSON block ({progress_url, status, finished,
 * poll_ms, stale_after_s}) and the round is unfinished, progress.json is fetched every poll_ms
 * (2 s) and the bar (the fraction of the whole round), the stage in words, the time it has run,
 * the estimate of the time left and the heartbeat age are updated in place, with a warning once
 * the heartbeat is older than stale_after_s. When the round finishes, the page says so in place:
 * the outcome, the error of a failed round, and a link to the results; it does not reload.
 */
(function () {
  "use strict";

  const NARROW_PX = 600;

  function readJson(id) {
    const element = document.getElementById(id);
    return element ? JSON.parse(element.textContent) : null;
  }

  function isObject(value) {
    return value !== null && typeof value === "object" && !Array.isArray(value);
  }

  function merge(base, changes) {
    const result = Object.assign({}, base);
    Object.keys(changes).forEach(function (key) {
      result[key] =
        isObject(result[key]) && isObject(changes[key])
          ? merge(result[key], changes[key])
          : changes[key];
    });
    return result;
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
      const narrow = target.clientWidth < NARROW_PX && isObject(figure.narrow);
      const layout = narrow ? merge(figure.layout, figure.narrow) : figure.layout;
      target.textContent = "";
      target.classList.toggle("narrow", narrow);
      if (typeof layout.height === "number") {
        // The drawing area is as tall as the figure: a resize (responsive plotly) then keeps it.
        target.style.minHeight = layout.height + "px";
      }
      window.Plotly.newPlot(target, figure.data, layout, {
        responsive: true,
        displaylogo: false,
        displayModeBar: !narrow,
      });
    });
  }

  function element(id) {
    return document.getElementById(id);
  }

  function setText(id, text) {
    const target = element(id);
    if (target) {
      target.textContent = text;
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

  function showProgress(state) {
    const known = state.overall !== null && state.overall !== undefined;
    const percent = known ? Math.floor(Math.max(0, Math.min(1, state.overall)) * 100) : null;
    const bar = element("live-bar");
    if (bar) {
      if (known) {
        bar.value = percent;
        bar.textContent = percent + "%";
      } else {
        bar.removeAttribute("value"); // indeterminate
      }
    }
    setText("live-percent", known ? percent + "%" : "…");
    setText("live-stage", state.stage_label || state.stage || "not started");
    setText("live-elapsed", state.elapsed_text || "not started yet");
    setText("live-eta", state.eta_text ? "about " + state.eta_text : "estimating…");
    setText("live-heartbeat", describeAge(state.heartbeat_age_s));
    const status = element("live-status");
    if (status) {
      status.textContent = state.status_label || state.status;
      status.className = "status status-" + state.status;
    }
  }

  function showMessage(text) {
    const message = element("live-message");
    if (message) {
      message.textContent = text;
      message.hidden = !text;
    }
  }

  function showOutcome(state) {
    const outcome = element("live-outcome");
    if (!outcome) {
      return;
    }
    const took = state.elapsed_text ? " after " + state.elapsed_text : "";
    const results = element("live-results");
    const error = element("live-error");
    if (state.status === "succeeded") {
      outcome.className = "alert alert-success";
      setText("live-outcome-text", "The round succeeded" + took + ". Its values, checks and " +
        "payout preview are ready.");
      if (results) {
        results.textContent = "Show the results";
      }
    } else if (state.status === "failed") {
      outcome.className = "alert alert-error";
      setText("live-outcome-text", "The round failed" + took + ":");
      if (error) {
        error.textContent = state.error || "No error message was recorded.";
        error.hidden = false;
      }
      if (results) {
        results.textContent = "Open the round to restart it";
      }
    } else {
      outcome.className = "alert alert-warning";
      setText("live-outcome-text", "The round was cancelled; it has no results.");
      if (results) {
        results.textContent = "Open the round";
      }
    }
    outcome.hidden = false;
    const cancel = element("live-cancel");
    if (cancel) {
      cancel.hidden = true;
    }
    setText("live-eta", state.status === "succeeded" ? "none: done" : "—");
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
        if (live.finished.indexOf(state.status) !== -1) {
          showOutcome(state);
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
