"""Fixed vocabulary of the demo portfolio: stories, features, CSMs, names and text templates."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DemoStory:
    """A named account with a story a CSM recognises; ``kind`` picks how its fact is computed."""

    external_id: str
    name: str
    segment: str
    industry: str
    kind: str
    story: str


STORIES: tuple[DemoStory, ...] = (
    DemoStory(
        "acme",
        "Acme Corp",
        "enterprise",
        "Manufacturing",
        "renewal_risk",
        "Renews in ~45 days with ~60% of its 500 licences unused and logins falling for 2 months.",
    ),
    DemoStory(
        "globex",
        "Globex",
        "mid-market",
        "Energy",
        "champion_left",
        "Its champion left ~5 weeks ago; nobody has engaged meaningfully since.",
    ),
    DemoStory(
        "initech",
        "Initech",
        "mid-market",
        "Software",
        "over_cap",
        "Growing past its 120-seat cap for 6+ weeks, heavy on Advanced analytics and the API.",
    ),
    DemoStory(
        "umbrella",
        "Umbrella Health",
        "enterprise",
        "Healthcare",
        "ticket_overload",
        "Drowning in tickets: urgent ones open for over a week, angry sentiment, an escalation.",
    ),
    DemoStory(
        "hooli",
        "Hooli",
        "mid-market",
        "Technology",
        "erratic",
        "Erratic usage: weekly active users swing wildly, with multi-week gaps.",
    ),
    DemoStory(
        "stark",
        "Stark Industries",
        "enterprise",
        "Aerospace",
        "healthy",
        "Healthy: high utilisation, promoters, paid on time.",
    ),
    DemoStory(
        "wayne",
        "Wayne Enterprises",
        "enterprise",
        "Financial Services",
        "healthy",
        "Healthy and renewing soon: a renewal that should be a formality.",
    ),
    DemoStory(
        "wonka",
        "Wonka Foods",
        "mid-market",
        "Food & Beverage",
        "healthy",
        "Healthy: engaged champion, broad feature adoption.",
    ),
    DemoStory(
        "vandelay",
        "Vandelay Industries",
        "mid-market",
        "Logistics",
        "onboarding",
        "Signed 8 weeks ago and stuck: two or three people log in, no feature adopted, two "
        "onboarding milestones overdue.",
    ),
    DemoStory(
        "piedpiper",
        "Pied Piper",
        "smb",
        "Software",
        "onboarding",
        "Signed 3 weeks ago and on track: its team is in and adopting features.",
    ),
    DemoStory(
        "dunder",
        "Dunder Mifflin",
        "mid-market",
        "Retail",
        "onboarding",
        "Signed 11 weeks ago; reached first value in its first days, nearly through onboarding.",
    ),
)

SEGMENTS: tuple[str, ...] = ("enterprise", "mid-market", "smb")
SEGMENT_WEIGHTS: tuple[float, ...] = (0.15, 0.35, 0.50)
TIERS: tuple[str, ...] = ("starter", "pro", "enterprise")
# Price per seat per year by tier.
SEAT_PRICE: tuple[float, ...] = (120.0, 260.0, 360.0)

INDUSTRIES: tuple[str, ...] = (
    "Software",
    "Financial Services",
    "Healthcare",
    "Manufacturing",
    "Retail",
    "Logistics",
    "Education",
    "Media",
    "Energy",
    "Professional Services",
    "Hospitality",
    "Real Estate",
)

# (email, Slack user id) of the CSM team.
OWNERS: tuple[tuple[str, str], ...] = (
    ("maya.patel@yourco.example", "U0CSM001"),
    ("diego.alvarez@yourco.example", "U0CSM002"),
    ("hannah.kim@yourco.example", "U0CSM003"),
    ("tom.okafor@yourco.example", "U0CSM004"),
    ("sofia.rossi@yourco.example", "U0CSM005"),
    ("liam.walsh@yourco.example", "U0CSM006"),
)


@dataclass(frozen=True)
class FeatureSpec:
    """A product feature in the demo catalogue."""

    key: str
    name: str
    tier: int
    benchmark_adoption: float
    is_integration: bool
    events: tuple[str, ...]
    events_per_user: float


FEATURES: tuple[FeatureSpec, ...] = (
    FeatureSpec("dashboards", "Dashboards", 0, 0.85, False, ("dashboard.viewed",), 12),
    FeatureSpec("reports", "Reports", 0, 0.70, False, ("report.run", "report.exported"), 4),
    FeatureSpec("tasks", "Task boards", 0, 0.75, False, ("task.created", "task.completed"), 20),
    FeatureSpec("comments", "Comments", 0, 0.60, False, ("comment.posted",), 15),
    FeatureSpec("mobile_app", "Mobile app", 0, 0.40, False, ("mobile.session",), 6),
    FeatureSpec("automations", "Workflow automations", 1, 0.45, False, ("automation.run",), 8),
    FeatureSpec("custom_fields", "Custom fields", 1, 0.50, False, ("field.edited",), 3),
    FeatureSpec("approvals", "Approvals", 1, 0.40, False, ("approval.requested",), 5),
    FeatureSpec("api", "API", 1, 0.35, True, ("api.request",), 500),
    FeatureSpec(
        "advanced_analytics", "Advanced analytics", 2, 0.30, False, ("analytics.query",), 10
    ),
    FeatureSpec("sso_audit", "SSO & audit log", 2, 0.55, False, ("audit.viewed",), 2),
    FeatureSpec(
        "salesforce_sync", "Salesforce sync", 2, 0.30, True, ("salesforce.record_synced",), 200
    ),
)

NAME_PREFIXES: tuple[str, ...] = (
    "Blue", "North", "Silver", "Bright", "Iron", "Cedar", "Summit", "Harbor", "Pioneer",
    "Quantum", "Evergreen", "Golden", "Atlas", "Vertex", "Nimbus", "Granite", "Maple", "Orion",
    "Crescent", "Falcon", "Lumen", "Nova", "Redwood", "Sterling", "Aspen", "Beacon", "Cobalt",
    "Delta", "Ember", "Keystone", "Meridian", "Oakridge", "Polar", "Riverstone", "Sequoia",
    "Tidewater", "Upland", "Willow", "Zenith", "Copper",
)  # fmt: skip
NAME_NOUNS: tuple[str, ...] = (
    "Ridge", "Works", "Labs", "Systems", "Logistics", "Health", "Foods", "Analytics", "Dynamics",
    "Capital", "Energy", "Media", "Robotics", "Retail", "Networks", "Bio", "Freight", "Learning",
    "Software", "Partners", "Clinics", "Builders", "Mobility", "Insurance", "Studios", "Hotels",
    "Pharma", "Metals", "Farms", "Telecom",
)  # fmt: skip
NAME_VARIANTS: tuple[str, ...] = (
    "", " Group", " Inc", " Holdings", " International", " EMEA", " APAC", " Global", " & Co",
    " Americas",
)  # fmt: skip

FIRST_NAMES: tuple[str, ...] = (
    "Alex", "Priya", "Sam", "Jordan", "Chen", "Fatima", "Lucas", "Amara", "Noah", "Yuki",
    "Elena", "Omar", "Grace", "Mateo", "Aisha", "Ben", "Chloe", "Daniel", "Ines", "Kofi",
    "Laura", "Marco", "Nadia", "Oliver", "Rosa", "Sanjay", "Tara", "Victor", "Wei", "Zoe",
)  # fmt: skip
LAST_NAMES: tuple[str, ...] = (
    "Smith", "Garcia", "Nguyen", "Müller", "Johnson", "Okafor", "Rossi", "Kowalski", "Silva",
    "Tanaka", "Brown", "Dubois", "Khan", "Larsen", "Moreau", "Novak", "O'Brien", "Park", "Reyes",
    "Schmidt", "Taylor", "Ueda", "Varga", "Williams", "Yilmaz", "Zhang", "Cohen", "Haddad",
    "Ivanova", "Jensen",
)  # fmt: skip

TICKET_SUBJECTS: tuple[str, ...] = (
    "Can't export report to CSV",
    "Dashboard takes over 30 seconds to load",
    "How do I set up an approval workflow?",
    "Invoice shows the wrong seat count",
    "Request: bulk deactivate departed users",
    "Data missing from the weekly report",
    "Mobile app crashes when opening a task",
    "Custom field values not saving",
    "Need help configuring SSO for a new domain",
    "API returning 429 Too Many Requests",
    "Salesforce sync stuck since yesterday",
    "Automation ran twice and sent duplicate emails",
    "Question about audit log retention",
    "Change billing contact",
    "Feature request: recurring tasks",
    "Notifications not arriving by email",
    "Permissions: admins can't edit shared dashboards",
    "Webhook deliveries delayed by hours",
)
URGENT_SUBJECTS: tuple[str, ...] = (
    "URGENT: users locked out after SSO change",
    "Production outage: dashboards return 500",
    "Data loss: tasks disappeared from board",
    "Salesforce sync overwrote our records",
    "API down for our integration, blocking operations",
    "Month-end reports wrong, finance blocked",
)

# Survey comments carry real themes (great support, dashboards, missing features, bugs, pricing,
# the reorg) in many phrasings, so that the voice-of-the-customer themes mean something. The
# generator picks by a uniform draw scaled to the bucket's length: any length works.
NPS_COMMENTS: dict[str, tuple[str, ...]] = {
    "promoter": (
        "Great support: fast, friendly and genuinely helpful.",
        "The support folks are great, they fixed our SSO issue within the hour.",
        "Support answers within minutes, great support every time.",
        "Whenever we are stuck, support walks us through it. Great support.",
        "The dashboards save my team hours every week.",
        "Our leadership lives in the dashboards now, they save hours of reporting.",
        "Dashboards give us the weekly numbers in minutes instead of hours.",
        "Automations changed how we run operations.",
        "The automations run our operations now, a big win.",
        "Rolled the dashboards out to two more departments.",
        "Great support and great dashboards, easy to recommend.",
    ),
    "passive": (
        "Solid tool, but missing features we need, like recurring tasks.",
        "Good overall; still missing features such as offline mode and Gantt views.",
        "Missing features compared to competitors: no Gantt view, no offline mode.",
        "We keep waiting for features on the roadmap, recurring tasks above all.",
        "Does the job, though a few bugs in the reports keep coming back.",
        "Some bugs in exports and reports, otherwise fine.",
        "Fine for the basics, but the price per seat feels high for what we use.",
        "The price is steep for a company our size.",
    ),
    "detractor": (
        "Our team stopped using it after the reorg.",
        "Since the reorg nobody owns the rollout and usage dropped.",
        "After the reorg our champion moved teams and the new team never picked it up.",
        "The reorg split the team and half of them stopped logging in.",
        "Too many bugs lately: the mobile app crashes and reports break.",
        "Bugs everywhere after the last release, the fixes promised at the QBR never came.",
        "Reports show wrong numbers, another bug every week.",
        "The mobile app crashes daily; these bugs cost us hours.",
        "We are not getting value for the price; hard to justify the renewal.",
        "The price went up again while we use less of it.",
        "Too expensive for what we use, the price per seat is hard to defend.",
        "Support takes days to answer and nobody follows up after the reorg.",
        "Still missing the features we were promised last year.",
    ),
}

INTERACTION_SUMMARIES: dict[tuple[str, bool], tuple[str, ...]] = {
    ("meeting", True): (
        "Roadmap review with the champion; agreed next steps on the rollout.",
        "Workshop with admins on automations; two new workflows live.",
        "Success plan review: goals on track, adoption up.",
    ),
    ("meeting", False): (
        "Meeting rescheduled by the customer.",
        "Customer no-show for the scheduled check-in.",
    ),
    ("call", True): (
        "Check-in call: discussed adoption and upcoming hires.",
        "Call with the decision maker about renewal priorities.",
        "Escalation follow-up call; customer satisfied with the fix.",
    ),
    ("call", False): (
        "Left a voicemail; no answer.",
        "Short call, customer asked to reconnect later.",
    ),
    ("email", True): (
        "Customer replied with their training plan for new admins.",
        "Agreed the QBR agenda by email.",
    ),
    ("email", False): (
        "Sent renewal reminder; no reply.",
        "Shared the product newsletter.",
        "Follow-up email, no response.",
    ),
    ("qbr", True): (
        "QBR: reviewed usage, ROI and goals for next quarter.",
        "QBR with the executive sponsor; expansion discussed.",
    ),
    ("qbr", False): ("QBR postponed by the customer.",),
}
