// The app's words in French, and in English when the phone's language is English.
const STRINGS = {
  fr: {},
  en: {
    skip: "Skip to content",
    nav: "Main navigation",
    nav_report: "Report",
    nav_list: "My reports",
    emergency_title: "Emergency, immediate danger:",
    emergency_17: "Police",
    emergency_112: "Emergencies (Europe)",
    emergency_114: "Deaf, hard of hearing",
    form_title: "Report an incident",
    category: "Type of report",
    category_choose: "— Choose —",
    emergency_hint: "Someone is in danger? Call 17 or 112 (SMS 114): this report does not replace an emergency call.",
    sensitive_notice: "Confidential report: only the competent police or gendarmerie unit sees it. You are not " +
      "identified outside that unit, and no notification shows its content on your screen.",
    questions: "Details",
    place: "Place",
    locate: "Locate me",
    map_label: "Map: tap the map or drag the pin to the place",
    place_none: "No place chosen: tap the map or use “Locate me”.",
    coverage_title: "Who handles it here",
    description: "Description",
    description_hint: "What you see, without naming anyone.",
    ongoing: "It is happening now",
    add_photo: "Add a photo",
    photos_hint: "Up to three photos, reduced and stripped of their metadata (location, device) before sending.",
    contact: "Leave a contact (optional)",
    contact_hint: "Kept apart from the report; read only if the unit needs to reach you, and every reading is logged.",
    contact_name: "Name",
    contact_email: "Email address",
    contact_phone: "Phone",
    submit: "Send the report",
    sent_title: "Report sent",
    sent_follow: "Follow this report",
    sent_another: "Make another report",
    list_title: "My reports",
    list_empty: "No report sent from this device.",
  },
};

// Strings built by the scripts (French first, then English).
const MESSAGES = {
  accuracy: ["Position trouvée, précision ± {m} m.", "Position found, accuracy ± {m} m."],
  locating: ["Recherche de votre position…", "Finding your position…"],
  geo_denied: ["Position indisponible : touchez la carte à l'endroit des faits.",
    "Position unavailable: tap the map where it happens."],
  place_set: ["Lieu choisi : {lat}, {lon}.", "Place chosen: {lat}, {lon}."],
  coverage: ["{unit}, {commune}.", "{unit}, {commune}."],
  coverage_loading: ["Recherche de l'unité compétente…", "Looking up the competent unit…"],
  kind_police_nationale: ["police nationale", "national police"],
  kind_gendarmerie: ["gendarmerie", "gendarmerie"],
  kind_police_municipale: ["police municipale", "municipal police"],
  demo_unit: ["unité de démonstration", "demo unit"],
  need_category: ["Choisissez la nature du signalement.", "Choose the type of report."],
  need_place: ["Indiquez le lieu des faits sur la carte.", "Show the place on the map."],
  too_many_photos: ["Trois photos au plus.", "Three photos at most."],
  photo_unreadable: ["Cette image n'a pas pu être lue.", "This image could not be read."],
  photo_alt: ["Photo {n}", "Photo {n}"],
  photo_remove: ["Retirer la photo {n}", "Remove photo {n}"],
  sending: ["Envoi en cours…", "Sending…"],
  queued: ["Pas de réseau : votre signalement est gardé sur cet appareil et sera envoyé dès le retour du réseau.",
    "No network: your report is kept on this device and will be sent as soon as the network returns."],
  queued_title: ["Signalement gardé sur l'appareil", "Report kept on the device"],
  sent_title: ["Signalement envoyé", "Report sent"],
  offline: ["Hors ligne : les signalements sont gardés et envoyés au retour du réseau.",
    "Offline: reports are kept and sent when the network returns."],
  flushed: ["Signalement en attente envoyé : {reference}.", "Pending report sent: {reference}."],
  pending: ["En attente d'envoi", "Waiting to be sent"],
  refused: ["Refusé : {message}", "Refused: {message}"],
  discard: ["Supprimer", "Delete"],
  reference: ["Référence : {reference}", "Reference: {reference}"],
  unit_in_charge: ["Transmis à : {unit}.", "Sent to: {unit}."],
  ack_expected: ["Prise en compte attendue avant {time}.", "Acknowledgement expected by {time}."],
  duplicate: ["D'autres habitants ont signalé le même fait : votre signalement y est regroupé.",
    "Other residents reported the same event: your report is grouped with theirs."],
  server_error: ["Le service ne répond pas : réessayez dans quelques instants.",
    "The service is not answering: try again in a moment."],
  status: ["Statut : {status}", "Status: {status}"],
  status_received: ["Reçu", "Received"],
  status_acknowledged: ["Pris en compte", "Acknowledged"],
  status_dispatched: ["Patrouille engagée", "Patrol dispatched"],
  status_resolved: ["Intervention terminée", "Intervention completed"],
  status_closed: ["Clôturé", "Closed"],
  status_rejected: ["Non retenu", "Not taken forward"],
  timeline: ["Suivi", "Timeline"],
  detail_title: ["Signalement {reference}", "Report {reference}"],
  not_found: ["Signalement introuvable sur cet appareil.", "Report not found on this device."],
  reopen: ["Rouvrir le signalement", "Reopen the report"],
  reopen_reason: ["Pourquoi le rouvrir ? (facultatif)", "Why reopen it? (optional)"],
  reopen_until: ["Vous pouvez le rouvrir jusqu'au {time} si le problème persiste.",
    "You may reopen it until {time} if the problem persists."],
  reopened: ["Signalement rouvert.", "Report reopened."],
  messages_title: ["Échanges avec l'unité", "Messages with the unit"],
  messages_empty: ["Aucun message. Vous pouvez compléter votre signalement ici.",
    "No message yet. You may add to your report here."],
  message_label: ["Votre message", "Your message"],
  message_photos: ["Joindre une photo", "Attach a photo"],
  message_send: ["Envoyer le message", "Send the message"],
  message_you: ["Vous", "You"],
  message_photo_count: ["{n} photo(s) jointe(s)", "{n} photo(s) attached"],
  message_empty_error: ["Écrivez un message ou joignez une photo.", "Write a message or attach a photo."],
  message_sent: ["Message envoyé.", "Message sent."],
  messages_closed: ["Les échanges sont fermés sur ce signalement.", "Messages are closed on this report."],
  feedback_title: ["Votre avis sur la réponse", "Your opinion of the response"],
  feedback_reactivite: ["Réactivité", "Responsiveness"],
  feedback_courtoisie: ["Courtoisie", "Courtesy"],
  feedback_information: ["Information reçue", "Information received"],
  feedback_score: ["{n} sur 5", "{n} out of 5"],
  feedback_comment: ["Commentaire (facultatif)", "Comment (optional)"],
  feedback_send: ["Envoyer mon avis", "Send my opinion"],
  feedback_missing: ["Donnez une note de 1 à 5 pour chaque question.", "Give a score from 1 to 5 to each question."],
  feedback_thanks: ["Merci, votre avis a été enregistré.", "Thank you, your opinion has been recorded."],
  fact_reference: ["Référence", "Reference"],
  fact_category: ["Nature", "Type"],
  fact_unit: ["Unité", "Unit"],
  fact_commune: ["Commune", "Municipality"],
  fact_description: ["Description", "Description"],
  fact_photos: ["Photos jointes", "Photos attached"],
  pin: ["Lieu des faits (épingle déplaçable)", "Place (draggable pin)"],
  back_to_list: ["Retour à mes signalements", "Back to my reports"],
  loading: ["Chargement…", "Loading…"],
  yes: ["oui", "yes"],
  none_option: ["— Choisir —", "— Choose —"],
  sensitive_suffix: [" (confidentiel)", " (confidential)"],
};

export const locale = (navigator.language || "fr").toLowerCase().startsWith("en") ? "en" : "fr";

/** A message of MESSAGES in the app's language, with its {placeholders} filled. */
export function t(key, values = {}) {
  const pair = MESSAGES[key];
  const text = pair ? pair[locale === "en" ? 1 : 0] : key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in values ? String(values[name]) : ""));
}

/** A label of the API in the app's language: `label_fr` / `label_en`, `name_fr` / `name_en`... */
export function pick(object, field) {
  return (locale === "en" && object[`${field}_en`]) || object[`${field}_fr`] || "";
}

/** The page's static words: French in the HTML, replaced when the phone is in English. */
export function translatePage(root = document) {
  document.documentElement.lang = locale;
  const table = STRINGS[locale];
  root.querySelectorAll("[data-i18n]").forEach((el) => {
    const text = table[el.dataset.i18n];
    if (text) { el.textContent = text; }
  });
  root.querySelectorAll("[data-i18n-aria-label]").forEach((el) => {
    const text = table[el.dataset.i18nAriaLabel];
    if (text) { el.setAttribute("aria-label", text); }
  });
}

const dateTime = new Intl.DateTimeFormat(locale === "en" ? "en-GB" : "fr-FR",
  { dateStyle: "medium", timeStyle: "short", timeZone: "Europe/Paris" });

/** An instant of the API (ISO 8601) as the resident reads it, in metropolitan French time. */
export function formatInstant(iso) {
  return iso ? dateTime.format(new Date(iso)) : "";
}
