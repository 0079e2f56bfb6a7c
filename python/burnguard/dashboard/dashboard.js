// burnguard dashboard: swaps in freshly rendered panels every few seconds, and drives the
// recording controls. No library, nothing loaded from the network.
(function () {
  "use strict";
  var token = new URLSearchParams(window.location.search).get("token");
  var headers = token ? { Authorization: "Bearer " + token } : {};
  var every = parseFloat(document.body.dataset.refresh || "5") * 1000;
  var status = document.getElementById("updated");

  function refresh() {
    return fetch("panels", { headers: headers, cache: "no-store" })
      .then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.text();
      })
      .then(function (html) {
        document.getElementById("panels").innerHTML = html;
        status.textContent = "Live: updated " + new Date().toLocaleTimeString();
      })
      .catch(function (e) {
        status.textContent = "Not updated: " + e.message;
      });
  }

  document.addEventListener("click", function (event) {
    var action = event.target.dataset && event.target.dataset.action;
    if (action !== "start" && action !== "stop") return;
    fetch("api/recording/" + action, { method: "POST", headers: headers })
      .then(refresh);
  });
  window.burnguardRefresh = refresh;
  setInterval(refresh, every);
})();
