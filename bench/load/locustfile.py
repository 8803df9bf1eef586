"""Realistic citizen and partner traffic for Proxima, replayed by locust (see bench/load/run.py).

Mix per simulated resident: registers once, then mostly polls the status of its reports, sometimes sends
a report from a real place (a French city centre, ~1 km jitter) with a real category, sometimes lists its
reports or checks coverage. Partners read Open311 (services, recent requests). Every non-2xx answer and
every answer that is not what the API promises is a failure.

Each user acts about once a second at independent, exponentially distributed intervals (Poisson arrivals, as
independent residents are). A fixed one-second rhythm would keep the users spawned in the same tick in step:
they would all fire in the same millisecond, every second, and the latencies would measure those bursts.
"""
import random
import uuid

from locust import HttpUser, task

# (lat, lon) of city centres served by the demo territory, weighted roughly by population.
PLACES = [((48.8566, 2.3522), 8), ((45.7640, 4.8357), 3), ((43.2965, 5.3698), 3), ((43.6047, 1.4442), 2),
          ((43.7102, 7.2620), 2), ((47.2184, -1.5536), 2), ((48.5734, 7.7521), 2), ((43.6108, 3.8767), 2),
          ((44.8378, -0.5792), 2), ((50.6292, 3.0573), 2), ((48.1173, -1.6778), 1), ((49.2583, 4.0317), 1),
          ((45.4397, 4.3872), 1), ((45.1885, 5.7245), 1), ((47.3220, 5.0415), 1), ((49.4431, 1.0993), 1)]
CATEGORIES = [("nuisance_sonore", 5), ("rodeo_motorise", 3), ("degradation", 3), ("stationnement_genant", 3),
              ("depot_sauvage", 2), ("regroupement_genant", 2), ("point_de_deal", 1), ("vehicule_abandonne", 1),
              ("autre", 1)]
ANSWERS = {"nuisance_sonore": {"source": "logement"}}


def poisson_arrivals(user) -> float:
    """Seconds until the user's next action: exponential with a mean of one second."""
    return random.expovariate(1.0)


def weighted(choices):
    items, weights = zip(*choices)
    return random.choices(items, weights)[0]


def place() -> dict:
    lat, lon = weighted(PLACES)
    return {"lat": round(lat + random.uniform(-0.01, 0.01), 6), "lon": round(lon + random.uniform(-0.012, 0.012), 6),
            "accuracy_m": random.choice([5, 10, 15, 30, 65])}


class Resident(HttpUser):
    weight = 9
    wait_time = poisson_arrivals

    def on_start(self):
        platform = random.choice(["android", "android", "ios"])
        with self.client.post("/api/v1/devices", name="POST /devices", catch_response=True,
                              json={"platform": platform, "fcm_token": f"load-{uuid.uuid4().hex}",
                                    "locale": random.choice(["fr", "fr", "fr", "en"])}) as response:
            if response.status_code != 201:
                response.failure(f"registration {response.status_code}")
                self.headers, self.references = {}, []
                return
            self.headers = {"Authorization": f"Bearer {response.json()['token']}"}
        self.references = []

    @task(2)
    def report(self):
        category = weighted(CATEGORIES)
        body = {"category": category, "description": "Signalement de test de charge", "location": place(),
                "ongoing": random.random() < 0.5, "answers": ANSWERS.get(category, {})}
        headers = {**self.headers, "Idempotency-Key": uuid.uuid4().hex}
        with self.client.post("/api/v1/reports", name="POST /reports", json=body, headers=headers,
                              catch_response=True) as response:
            if response.status_code == 201:
                self.references.append(response.json()["reference"])
            elif response.status_code == 422 and "territoires" in response.text:
                response.success()  # a jittered point just off the coast: a correct, documented refusal
            else:
                response.failure(f"intake {response.status_code}: {response.text[:200]}")

    @task(6)
    def poll(self):
        if not self.references:
            return self.report()
        reference = random.choice(self.references)
        self.client.get(f"/api/v1/reports/{reference}", name="GET /reports/{reference}", headers=self.headers)

    @task(1)
    def my_reports(self):
        self.client.get("/api/v1/reports", name="GET /reports", headers=self.headers)

    @task(1)
    def coverage(self):
        where = place()
        with self.client.get("/api/v1/coverage", name="GET /coverage", catch_response=True,
                             params={"lat": where["lat"], "lon": where["lon"]}) as response:
            if response.status_code in (200,) or (response.status_code == 422 and "territoires" in response.text):
                response.success()
            else:
                response.failure(f"coverage {response.status_code}")


class Partner(HttpUser):
    weight = 1
    wait_time = poisson_arrivals

    @task(1)
    def services(self):
        self.client.get("/open311/v2/services.json", name="GET /open311 services")

    @task(3)
    def requests(self):
        self.client.get("/open311/v2/requests.json", name="GET /open311 requests",
                        params={"status": random.choice(["open", "closed", "open,closed"])})
