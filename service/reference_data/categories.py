"""The categories (natures de signalement) and outcome codes Proxima ships with, upserted by `flask data load`.

SLA targets are minutes from reception. `forces` lists the competent forces in order of precedence:
routing picks the first force with an open, competent unit at the point.
"""
from sqlalchemy.dialects.postgresql import insert

from models import Category, OutcomeCode, db

PN, GN, PM = "police_nationale", "gendarmerie", "police_municipale"

CATEGORIES = [
    dict(code="rodeo_motorise", label_fr="Rodéo motorisé", label_en="Motorised rodeo", group="Tranquillité publique",
         description_fr="Motos, quads ou voitures conduits de façon dangereuse sur la voie publique.",
         keywords="rodéo,moto,quad,cross,bruit", priority=1, sla_acknowledge_min=10, sla_dispatch_min=30,
         sla_resolve_min=240, forces=[PN, GN, PM], live_minutes=120, duplicate_radius_m=500,
         duplicate_window_min=120, retention_days=365,
         attributes=[
             dict(code="vehicle_count", datatype="number", required=False, order=1,
                  description_fr="Nombre de véhicules", description_en="Number of vehicles"),
             dict(code="vehicle_type", datatype="multivaluelist", required=False, order=2,
                  description_fr="Type d'engins", description_en="Vehicle types",
                  values=[dict(key="moto", name_fr="Moto / motocross", name_en="Motorbike"),
                          dict(key="quad", name_fr="Quad", name_en="Quad"),
                          dict(key="voiture", name_fr="Voiture", name_en="Car")]),
         ]),
    dict(code="nuisance_sonore", label_fr="Nuisances sonores", label_en="Noise nuisance", group="Tranquillité publique",
         description_fr="Tapage, musique forte, cris, en particulier la nuit.",
         keywords="bruit,tapage,musique", priority=3, sla_acknowledge_min=30, sla_dispatch_min=90,
         sla_resolve_min=480, forces=[PM, PN, GN], live_minutes=180, duplicate_radius_m=150,
         duplicate_window_min=180, retention_days=365,
         attributes=[
             dict(code="source", datatype="singlevaluelist", required=True, order=1,
                  description_fr="Origine du bruit", description_en="Source of the noise",
                  values=[dict(key="logement", name_fr="Logement", name_en="Dwelling"),
                          dict(key="voie_publique", name_fr="Voie publique", name_en="Street"),
                          dict(key="etablissement", name_fr="Bar / établissement", name_en="Bar / venue"),
                          dict(key="chantier", name_fr="Chantier", name_en="Building site")]),
         ]),
    dict(code="point_de_deal", label_fr="Point de deal", label_en="Drug dealing spot", group="Stupéfiants",
         description_fr="Trafic de stupéfiants constaté en un lieu. Signalement traité de façon confidentielle.",
         keywords="drogue,trafic,stupéfiants,guetteurs", priority=2, sla_acknowledge_min=60,
         sla_dispatch_min=1440, sla_resolve_min=20160, forces=[PN, GN], sensitive=True,
         live_minutes=None, duplicate_radius_m=200, duplicate_window_min=10080, retention_days=730,
         attributes=[
             dict(code="frequency", datatype="singlevaluelist", required=False, order=1,
                  description_fr="Fréquence observée", description_en="How often",
                  values=[dict(key="ponctuel", name_fr="Ponctuel", name_en="Once"),
                          dict(key="regulier", name_fr="Régulier", name_en="Regularly"),
                          dict(key="permanent", name_fr="Permanent", name_en="Constantly")]),
         ]),
    dict(code="violence_en_cours", label_fr="Violences en cours", label_en="Violence in progress",
         group="Urgence",
         description_fr="Une personne est en danger : appelez le 17 ou le 112 (SMS 114 pour les personnes sourdes "
                        "ou malentendantes). Ce signalement ne remplace pas un appel d'urgence.",
         keywords="violence,agression,bagarre,urgence", priority=1, sla_acknowledge_min=5, sla_dispatch_min=15,
         sla_resolve_min=120, forces=[PN, GN], sensitive=True, emergency_hint=True, live_minutes=60,
         duplicate_radius_m=200, duplicate_window_min=60, retention_days=730),
    dict(code="degradation", label_fr="Dégradation", label_en="Vandalism", group="Atteintes aux biens",
         description_fr="Tags, vitres brisées, mobilier urbain ou véhicules dégradés.",
         keywords="tag,vandalisme,casse,graffiti", priority=4, sla_acknowledge_min=240, sla_dispatch_min=1440,
         sla_resolve_min=10080, forces=[PM, PN, GN], live_minutes=None, duplicate_radius_m=50,
         duplicate_window_min=2880, retention_days=365),
    dict(code="depot_sauvage", label_fr="Dépôt sauvage", label_en="Illegal dumping", group="Cadre de vie",
         description_fr="Déchets, gravats ou encombrants abandonnés.",
         keywords="déchets,ordures,encombrants,gravats", priority=5, sla_acknowledge_min=1440,
         sla_dispatch_min=2880, sla_resolve_min=10080, forces=[PM, GN, PN], live_minutes=None,
         duplicate_radius_m=50, duplicate_window_min=10080, retention_days=180),
    dict(code="stationnement_genant", label_fr="Stationnement gênant", label_en="Obstructive parking",
         group="Circulation",
         description_fr="Véhicule gênant le passage, garé sur un trottoir, une place réservée ou une sortie.",
         keywords="voiture,parking,trottoir,stationnement", priority=4, sla_acknowledge_min=60,
         sla_dispatch_min=180, sla_resolve_min=480, forces=[PM, PN, GN], live_minutes=240,
         duplicate_radius_m=30, duplicate_window_min=240, retention_days=180),
    dict(code="regroupement_genant", label_fr="Regroupement gênant", label_en="Nuisance gathering",
         group="Tranquillité publique",
         description_fr="Occupation de halls d'immeuble, regroupements bruyants ou intimidants.",
         keywords="hall,attroupement,squat", priority=3, sla_acknowledge_min=60, sla_dispatch_min=180,
         sla_resolve_min=1440, forces=[PN, GN, PM], live_minutes=180, duplicate_radius_m=100,
         duplicate_window_min=240, retention_days=365),
    dict(code="vehicule_abandonne", label_fr="Véhicule abandonné", label_en="Abandoned vehicle",
         group="Circulation",
         description_fr="Véhicule ventouse, épave ou véhicule incendié.",
         keywords="épave,ventouse,voiture brûlée", priority=5, sla_acknowledge_min=2880, sla_dispatch_min=10080,
         sla_resolve_min=43200, forces=[PM, PN, GN], live_minutes=None, duplicate_radius_m=30,
         duplicate_window_min=20160, retention_days=365,
         attributes=[
             dict(code="plate", datatype="string", required=False, order=1,
                  description_fr="Immatriculation (si visible)", description_en="Number plate (if visible)"),
         ]),
    dict(code="autre", label_fr="Autre", label_en="Other", group="Autre",
         description_fr="Toute autre situation d'insécurité du quotidien.", keywords="autre", priority=4,
         sla_acknowledge_min=240, sla_dispatch_min=1440, sla_resolve_min=10080, forces=[PN, GN, PM],
         live_minutes=None, duplicate_radius_m=50, duplicate_window_min=60, retention_days=365),
]

OUTCOMES = [
    dict(code="patrouille_engagee_rien_constate", label_fr="Patrouille engagée, rien constaté",
         label_en="Patrol sent, nothing found",
         citizen_text_fr="Une patrouille s'est rendue sur place et n'a rien constaté.",
         citizen_text_en="A patrol went to the place and found nothing.", open311_status="no_further_action"),
    dict(code="interpellation", label_fr="Interpellation", label_en="Arrest",
         citizen_text_fr="L'intervention a conduit à une ou plusieurs interpellations.",
         citizen_text_en="The intervention led to one or more arrests.", open311_status="fixed"),
    dict(code="verbalisation", label_fr="Verbalisation", label_en="Fine issued",
         citizen_text_fr="Une ou plusieurs verbalisations ont été dressées.",
         citizen_text_en="One or more fines were issued.", open311_status="fixed"),
    dict(code="saisie_engin", label_fr="Saisie d'engin", label_en="Vehicle seized",
         citizen_text_fr="Un ou plusieurs engins ont été saisis.",
         citizen_text_en="One or more vehicles were seized.", open311_status="fixed"),
    dict(code="mediation", label_fr="Médiation / rappel à l'ordre", label_en="Mediation / warning",
         citizen_text_fr="Les personnes en cause ont fait l'objet d'un rappel à l'ordre.",
         citizen_text_en="The people involved were warned.", open311_status="fixed"),
    dict(code="enlevement_demande", label_fr="Enlèvement demandé", label_en="Removal requested",
         citizen_text_fr="L'enlèvement a été demandé aux services compétents.",
         citizen_text_en="Removal was requested from the competent services.", open311_status="action_scheduled"),
    dict(code="transmis_enquete", label_fr="Transmis pour enquête", label_en="Passed on for investigation",
         citizen_text_fr="Votre signalement a été transmis aux enquêteurs.",
         citizen_text_en="Your report was passed on to investigators.", open311_status="internal_referral"),
    dict(code="hors_competence", label_fr="Hors compétence", label_en="Not within police remit",
         citizen_text_fr="Cette situation ne relève pas des forces de sécurité ; elle a été orientée vers le service compétent.",
         citizen_text_en="This is not a police matter; it was referred to the competent service.",
         open311_status="not_councils_responsibility"),
    dict(code="oriente_plainte", label_fr="Orienté vers un dépôt de plainte", label_en="Referred to file a complaint",
         citizen_text_fr="Nous vous invitons à déposer plainte (en ligne ou au commissariat / à la brigade).",
         citizen_text_en="Please file a complaint (online or at the police / gendarmerie station).",
         open311_status="no_further_action"),
]


def upsert_categories() -> int:
    """Insert or update the shipped categories and outcome codes; returns how many categories there are."""
    for model, rows, key in ((Category, CATEGORIES, "code"), (OutcomeCode, OUTCOMES, "code")):
        for row in rows:
            statement = insert(model).values(**row)
            statement = statement.on_conflict_do_update(
                index_elements=[key], set_={k: statement.excluded[k] for k in row if k != key})
            db.session.execute(statement)
    db.session.commit()
    return len(CATEGORIES)
