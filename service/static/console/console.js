/* Proxima console: SLA countdowns, queue auto-refresh, maps. Loaded as a file (no inline script: CSP). */
(function () {
  "use strict";

  function frenchDuration(seconds) {
    seconds = Math.floor(Math.abs(seconds));
    var days = Math.floor(seconds / 86400), hours = Math.floor((seconds % 86400) / 3600),
        minutes = Math.floor((seconds % 3600) / 60);
    if (days) { return days + " j " + hours + " h"; }
    if (hours) { return hours + " h " + (minutes < 10 ? "0" : "") + minutes + " min"; }
    if (minutes) { return minutes + " min"; }
    return "moins d'une minute";
  }

  function updateCountdowns(root) {
    var now = Date.now();
    (root || document).querySelectorAll("time.sla[data-due]").forEach(function (el) {
      var left = (Date.parse(el.getAttribute("data-due")) - now) / 1000;
      el.textContent = left >= 0 ? "reste " + frenchDuration(left) : "dépassé de " + frenchDuration(left);
      var row = el.closest("tr");
      if (row) { row.classList.toggle("overdue", left < 0); }
    });
  }

  function baseMap(el) {
    var map = L.map(el, { zoomControl: true, keyboard: true });
    var tiles = el.getAttribute("data-tile-url");
    if (tiles) {
      L.tileLayer(tiles, { maxZoom: 19, attribution: "fond de carte : voir configuration MAP_TILE_URL" }).addTo(map);
    }
    map.setView([46.6, 2.4], 6);  // France, until the data arrives
    return map;
  }

  // Tooltips as text nodes: Leaflet would otherwise interpret a string as HTML.
  function textElement(text) {
    var span = document.createElement("span");
    span.textContent = text;
    return span;
  }

  function markerStyle(priority) {
    var colours = { 1: "#b3001b", 2: "#c25400", 3: "#7a4b00", 4: "#000091", 5: "#4a4a4a" };
    return { radius: 8, color: "#fff", weight: 2, fillColor: colours[priority] || "#000091", fillOpacity: 0.9 };
  }

  function QueuePage(table) {
    this.table = table;
    this.tbody = document.getElementById("queue-rows");
    this.status = document.getElementById("queue-status");
    this.url = table.getAttribute("data-poll-url");
    this.known = null;
    var mapEl = document.getElementById("map");
    if (mapEl && window.L) {
      this.map = baseMap(mapEl);
      this.markers = L.layerGroup().addTo(this.map);
      this.mapEl = mapEl;
      this.loadJurisdictions(mapEl.getAttribute("data-jurisdictions-url"));
    }
  }

  QueuePage.prototype.loadJurisdictions = function (url) {
    var self = this;
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data || !data.features.length) { return; }
        var layer = L.geoJSON(data, { style: { color: "#000091", weight: 2, fillOpacity: 0.05 } }).addTo(self.map);
        layer.eachLayer(function (l) {
          var p = l.feature.properties;
          l.bindTooltip(textElement(p.name + (p.synthetic ? " (unité fictive)" : "")));
        });
        self.jurisdictionBounds = layer.getBounds();
        if (!self.fitted) { self.map.fitBounds(self.jurisdictionBounds); }
      })
      .catch(function () { /* the map stays usable without the jurisdiction */ });
  };

  QueuePage.prototype.drawMarkers = function (markers) {
    if (!this.map) { return; }
    var self = this, bounds = [];
    this.markers.clearLayers();
    markers.forEach(function (m) {
      var label = m.reference + " — " + m.category + " (" + m.status + ")" +
        (m.incident_size ? " — incident de " + m.incident_size + " signalements" : "");
      var marker = L.circleMarker([m.lat, m.lon], markerStyle(m.priority));
      marker.options.reportId = m.id;
      marker.bindTooltip(textElement(label));
      marker.on("click", function () { window.location.href = self.mapEl.getAttribute("data-reports-base") + m.id; });
      marker.addTo(self.markers);
      bounds.push([m.lat, m.lon]);
    });
    this.mapEl.setAttribute("data-marker-count", String(markers.length));
    this.mapEl.setAttribute("data-marker-ids", markers.map(function (m) { return m.id; }).join(","));
    if (!this.fitted && bounds.length) {
      this.map.fitBounds(bounds, { maxZoom: 15, padding: [20, 20] });
      this.fitted = true;
    }
  };

  QueuePage.prototype.refresh = function () {
    var self = this;
    return fetch(this.url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) {
        if (r.status === 401) { window.location.reload(); return null; }
        return r.ok ? r.json() : null;
      })
      .then(function (data) {
        if (!data) { return; }
        var fresh = self.known ? data.ids.filter(function (id) { return self.known.indexOf(id) < 0; }) : [];
        // Server-rendered (escaped) rows: one template for the first render and the refreshes.
        if (data.rows_html !== self.lastHtml) {
          // Keep keyboard focus on the same report across the refresh.
          var active = document.activeElement, focusedRow = active && active.closest ? active.closest("tr[data-report-id]") : null;
          var focusedId = focusedRow ? focusedRow.getAttribute("data-report-id") : null;
          self.tbody.innerHTML = data.rows_html;
          self.lastHtml = data.rows_html;
          if (focusedId) {
            var link = self.tbody.querySelector('tr[data-report-id="' + focusedId + '"] a');
            if (link) { link.focus(); }
          }
        }
        fresh.forEach(function (id) {
          var row = self.tbody.querySelector('tr[data-report-id="' + id + '"]');
          if (row) { row.classList.add("fresh"); }
        });
        if (fresh.length) {
          self.status.textContent = fresh.length === 1 ? "1 nouveau signalement dans la file." :
            fresh.length + " nouveaux signalements dans la file.";
        }
        self.known = data.ids;
        updateCountdowns(self.tbody);
        self.drawMarkers(data.markers);
      })
      .catch(function () { self.status.textContent = "Connexion perdue : nouvel essai dans quelques secondes."; });
  };

  function reportMap(el) {
    if (!window.L) { return; }
    var lat = parseFloat(el.getAttribute("data-lat")), lon = parseFloat(el.getAttribute("data-lon"));
    if (isNaN(lat) || isNaN(lon)) { return; }
    var map = baseMap(el);
    L.circleMarker([lat, lon], markerStyle(1)).addTo(map);
    map.setView([lat, lon], 15);
  }

  // A canned question picked in the thread's form fills the message, which the officer may still edit.
  function cannedQuestions(select) {
    var text = document.getElementById("message-text");
    if (!text) { return; }
    select.addEventListener("change", function () {
      if (select.value) { text.value = select.value; text.focus(); }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    updateCountdowns(document);
    setInterval(function () { updateCountdowns(document); }, 30000);
    var table = document.getElementById("queue");
    if (table) {
      var page = new QueuePage(table);
      window.proximaQueue = page;
      page.refresh();
      var interval = parseInt(document.body.getAttribute("data-poll-ms") || "15000", 10);
      setInterval(function () { page.refresh(); }, interval);
    }
    var reportMapEl = document.getElementById("report-map");
    if (reportMapEl) { reportMap(reportMapEl); }
    var canned = document.getElementById("message-canned");
    if (canned) { cannedQuestions(canned); }
  });
})();
