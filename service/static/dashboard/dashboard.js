/* Proxima dashboard: draws the charts from the JSON data island; every mark links to the reports behind it. */
(function () {
  "use strict";

  var island = document.getElementById("dashboard-data");
  if (!island) { return; }
  var data = JSON.parse(island.textContent);
  var BLUE = "#000091", RED = "#b3001b", GREEN = "#18753c", AMBER = "#b36b00", GREY = "#8a8a8a";
  var rendered = [];

  function go(href) { if (href) { window.location.href = href; } }

  function clickable(items) {
    return function (event, elements) {
      if (elements.length) { go(items[elements[0].index].href); }
    };
  }

  function minutesLabel(value) {
    if (value === null || value === undefined) { return "—"; }
    if (value >= 1440) { return (value / 1440).toFixed(1).replace(".", ",") + " j"; }
    if (value >= 60) { return (value / 60).toFixed(1).replace(".", ",") + " h"; }
    return Math.round(value) + " min";
  }

  function chart(id, config) {
    var canvas = document.getElementById(id);
    if (!canvas || typeof Chart === "undefined") { return null; }
    config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false }, config.options || {});
    var instance = new Chart(canvas, config);
    canvas.setAttribute("data-rendered", "true");
    rendered.push(id);
    return instance;
  }

  function durationAxis(title) {
    return { beginAtZero: true, title: { display: true, text: title },
             ticks: { callback: function (v) { return minutesLabel(v); } } };
  }

  // Distribution of each clock.
  Object.keys(data.distributions).forEach(function (clock) {
    var items = data.distributions[clock];
    chart("chart-dist-" + clock, {
      type: "bar",
      data: { labels: data.bucket_labels,
              datasets: [{ label: "Signalements", data: items.map(function (i) { return i.n; }), backgroundColor: BLUE }] },
      options: { onClick: clickable(items), plugins: { legend: { display: false } },
                 scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
    });
  });

  function shortLabel(text) {
    var short = text.replace("Direction départementale de la police nationale", "DDPN")
                    .replace("Groupement de gendarmerie départementale", "GGD");
    return short.length > 42 ? short.slice(0, 41) + "…" : short;
  }

  // Median and P90 per unit.
  chart("chart-units", {
    type: "bar",
    data: { labels: data.units.map(function (u) { return shortLabel(u.label); }),
            datasets: [
              { label: "Médiane", data: data.units.map(function (u) { return u.acknowledge_p50_min; }), backgroundColor: BLUE },
              { label: "P90", data: data.units.map(function (u) { return u.acknowledge_p90_min; }), backgroundColor: GREY }
            ] },
    options: { indexAxis: "y", onClick: clickable(data.units),
               scales: { x: durationAxis("prise en compte") },
               plugins: { tooltip: { callbacks: {
                 title: function (items) { return items.length ? data.units[items[0].dataIndex].label : ""; },
                 label: function (ctx) {
                 return ctx.dataset.label + " : " + minutesLabel(ctx.raw) + " (" + data.units[ctx.dataIndex].reports + " signalements)";
               } } } } }
  });

  // Weekly trend: volume (bars) and medians (lines).
  chart("chart-weeks", {
    type: "bar",
    data: { labels: data.weeks.map(function (w) { return w.label; }),
            datasets: [
              { type: "bar", label: "Signalements", data: data.weeks.map(function (w) { return w.reports; }),
                backgroundColor: "#c9d1ff", yAxisID: "count" },
              { type: "line", label: "Prise en compte (médiane)", data: data.weeks.map(function (w) { return w.acknowledge_p50_min; }),
                borderColor: BLUE, backgroundColor: BLUE, yAxisID: "minutes" },
              { type: "line", label: "Prise en compte (P90)", data: data.weeks.map(function (w) { return w.acknowledge_p90_min; }),
                borderColor: AMBER, backgroundColor: AMBER, borderDash: [4, 3], yAxisID: "minutes" }
            ] },
    options: { onClick: clickable(data.weeks),
               scales: { count: { position: "left", beginAtZero: true, ticks: { precision: 0 } },
                         minutes: Object.assign(durationAxis("délai"), { position: "right", grid: { drawOnChartArea: false } }) } }
  });

  // SLA compliance per category (click: the late reports of that category).
  var slaColors = { acknowledge: BLUE, dispatch: AMBER, resolve: GREEN };
  var slaLabels = { acknowledge: "Prise en compte", dispatch: "Patrouille", resolve: "Résolution" };
  chart("chart-sla", {
    type: "bar",
    data: { labels: data.categories.map(function (c) { return c.label; }),
            datasets: ["acknowledge", "dispatch", "resolve"].map(function (clock) {
              return { label: slaLabels[clock], clock: clock, backgroundColor: slaColors[clock],
                       data: data.categories.map(function (c) { return c[clock + "_sla_pct"]; }) };
            }) },
    options: { indexAxis: "y",
               onClick: function (event, elements, instance) {
                 if (!elements.length) { return; }
                 var el = elements[0], clock = instance.data.datasets[el.datasetIndex].clock;
                 go(data.categories[el.index].breached[clock]);
               },
               scales: { x: { min: 0, max: 100, title: { display: true, text: "% dans le délai cible" } } } }
  });

  // Outcome mix.
  var palette = [BLUE, GREEN, AMBER, RED, GREY, "#6a3d9a", "#1f78b4", "#33a02c", "#fb9a99", "#cab2d6"];
  chart("chart-outcomes", {
    type: "doughnut",
    data: { labels: data.outcomes.map(function (o) { return o.label; }),
            datasets: [{ data: data.outcomes.map(function (o) { return o.reports; }), backgroundColor: palette }] },
    options: { onClick: clickable(data.outcomes), plugins: { legend: { position: "right" } } }
  });

  // Heat map: colour the server-rendered cells (a table stays readable without JavaScript).
  var cells = document.querySelectorAll("#heatmap td[data-n]");
  var max = 0;
  cells.forEach(function (td) { max = Math.max(max, Number(td.getAttribute("data-n"))); });
  cells.forEach(function (td) {
    var share = max ? Number(td.getAttribute("data-n")) / max : 0;
    td.style.backgroundColor = "rgba(0, 0, 145, " + (0.05 + 0.9 * share).toFixed(3) + ")";
    td.style.color = share > 0.45 ? "#fff" : "#161616";
  });
  if (cells.length) { document.getElementById("heatmap").setAttribute("data-rendered", "true"); }

  // Bounds of the bulk of the reports (5th–95th percentiles, weighted by count): a few overseas communes must
  // not shrink metropolitan France to a dot; they stay on the map, one zoom-out away.
  function coreBounds(points) {
    function quantiles(key) {
      var sorted = points.slice().sort(function (a, b) { return a[key] - b[key]; });
      var total = sorted.reduce(function (n, c) { return n + c.reports; }, 0), seen = 0, low = null, high = null;
      sorted.forEach(function (c) {
        seen += c.reports;
        if (low === null && seen >= 0.05 * total) { low = c[key]; }
        if (high === null && seen >= 0.95 * total) { high = c[key]; }
      });
      return [low, high];
    }
    var lat = quantiles("lat"), lon = quantiles("lon");
    return L.latLngBounds([lat[0], lon[0]], [lat[1], lon[1]]);
  }

  // Map of reports by commune.
  var mapEl = document.getElementById("commune-map");
  if (mapEl && typeof L !== "undefined") {
    var map = L.map(mapEl, { preferCanvas: true });
    var tiles = mapEl.getAttribute("data-tile-url");
    if (tiles) { L.tileLayer(tiles, { maxZoom: 18, attribution: "fond de carte" }).addTo(map); }
    var points = data.communes.filter(function (c) { return c.lat !== null && c.lon !== null; });
    var biggest = points.reduce(function (m, c) { return Math.max(m, c.reports); }, 1);
    var layer = L.featureGroup();
    points.forEach(function (c) {
      var marker = L.circleMarker([c.lat, c.lon], { radius: 2 + 12 * Math.sqrt(c.reports / biggest), color: BLUE,
                                                   weight: 1, fillOpacity: 0.45 });
      var popup = document.createElement("div");
      var title = document.createElement("strong");
      title.textContent = c.name + " (" + c.insee + ")";
      var line = document.createElement("p");
      line.textContent = c.reports + " signalements, prise en compte médiane " + minutesLabel(c.acknowledge_p50_min);
      var link = document.createElement("a");
      link.href = c.href;
      link.textContent = "Voir les signalements";
      popup.appendChild(title); popup.appendChild(line); popup.appendChild(link);
      marker.bindPopup(popup);
      layer.addLayer(marker);
    });
    layer.addTo(map);
    if (points.length) { map.fitBounds(coreBounds(points), { padding: [10, 10], maxZoom: 12 }); }
    else { map.setView([46.6, 2.4], 5); }
    mapEl.setAttribute("data-rendered", "true");
    mapEl.setAttribute("data-markers", String(points.length));
  }

  document.body.setAttribute("data-charts-rendered", String(rendered.length));
})();
