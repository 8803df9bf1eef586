// The place of a report on a Leaflet map: a draggable pin, placed by a tap or by the phone's position. Tiles come
// from MAP_TILE_URL when set; otherwise the map draws the commune outlines of the API around the view.
import { api } from "./api.js";
import { t } from "./i18n.js";

const FRANCE = [46.6, 2.4];
const OUTLINES_MIN_ZOOM = 12;

export class PlacePicker {
  /** `onChange({lat, lon, accuracy})` is called whenever the pin moves. */
  constructor(element, onChange) {
    this.element = element;
    this.onChange = onChange;
    this.point = null;
    this.accuracy = null;
    const L = window.L;
    L.Icon.Default.imagePath = document.body.dataset.leafletImages;
    this.map = L.map(element, { zoomControl: true, keyboard: true }).setView(FRANCE, 5);
    const tiles = document.body.dataset.tileUrl;
    if (tiles) {
      L.tileLayer(tiles, { maxZoom: 19, attribution: "fond de carte : voir configuration MAP_TILE_URL" })
        .addTo(this.map);
    } else {
      this.outlines = L.geoJSON(null, { style: { color: "#000091", weight: 1, fillOpacity: 0.03 } }).addTo(this.map);
      this.map.on("moveend", () => this.loadOutlines());
    }
    this.map.on("click", (event) => this.set(event.latlng.lat, event.latlng.lng, null));
  }

  /** Put the pin at (lat, lon); `accuracy` in metres when it comes from the phone's position. */
  set(lat, lon, accuracy, { zoom = false } = {}) {
    const L = window.L;
    this.point = { lat, lon };
    this.accuracy = accuracy;
    if (!this.marker) {
      this.marker = L.marker([lat, lon], { draggable: true, keyboard: true, title: t("pin"), alt: t("pin") })
        .addTo(this.map);
      this.marker.on("dragend", () => {
        const where = this.marker.getLatLng();
        this.set(where.lat, where.lng, null);
      });
    } else {
      this.marker.setLatLng([lat, lon]);
    }
    if (this.circle) { this.circle.remove(); this.circle = null; }
    if (accuracy) {
      this.circle = L.circle([lat, lon], { radius: accuracy, color: "#000091", weight: 1, fillOpacity: 0.08,
        interactive: false }).addTo(this.map);
    }
    if (zoom) { this.map.setView([lat, lon], Math.max(this.map.getZoom(), 16)); }
    this.element.dataset.lat = lat.toFixed(6);
    this.element.dataset.lon = lon.toFixed(6);
    this.onChange({ lat, lon, accuracy });
  }

  reset() {
    this.point = null;
    this.accuracy = null;
    if (this.marker) { this.marker.remove(); this.marker = null; }
    if (this.circle) { this.circle.remove(); this.circle = null; }
    delete this.element.dataset.lat;
    delete this.element.dataset.lon;
  }

  /** The map is laid out again once its section is shown (Leaflet measures its container). */
  refresh() {
    this.map.invalidateSize();
  }

  async loadOutlines() {
    if (this.map.getZoom() < OUTLINES_MIN_ZOOM) { return; }
    const bounds = this.map.getBounds().pad(0.2);
    try {
      const data = await api.communes(bounds);
      this.outlines.clearLayers();
      this.outlines.addData(data);
      this.element.dataset.outlines = String(data.features.length);
    } catch (exc) {
      // Offline or out of range: the pin still works on a blank map.
    }
  }
}
