"""The cast of `jiph demo`: partner agencies, UK forces, hub staff, officers' names, and the
words they use. Data only; `jiph.demo_data` writes the story with it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Partner:
    partner_id: str
    partner_type: str
    requesting_body: str
    contact_name: str
    contact_email: str
    #: Where this partner asks for help: (country, mission or None).
    places: tuple[tuple[str, str | None], ...]
    weight: float


PARTNERS: tuple[Partner, ...] = (
    Partner(
        "un-dpo-police-division",
        "un",
        "UN Police Division (DPO)",
        "Amina Diallo",
        "a.diallo@un.example.org",
        (
            ("SO", "UNTMIS"),
            ("SS", "UNMISS"),
            ("CF", "MINUSCA"),
            ("CD", "MONUSCO"),
            ("HT", "BINUH"),
            ("LY", "UNSMIL"),
            ("AF", "UNAMA"),
            ("IQ", "UNAMI"),
            ("CO", "UN Verification Mission in Colombia"),
        ),
        0.30,
    ),
    Partner(
        "eu-eeas-cpcc",
        "eu",
        "EEAS Civilian Planning and Conduct Capability",
        "Lukas Bergmann",
        "lukas.bergmann@eeas.example.eu",
        (
            ("UA", "EUAM Ukraine"),
            ("MD", "EUPM Moldova"),
            ("GE", "EUMM Georgia"),
            ("ML", "EUCAP Sahel Mali"),
            ("SO", "EUCAP Somalia"),
            ("IQ", "EUAM Iraq"),
            ("LY", "EUBAM Libya"),
        ),
        0.20,
    ),
    Partner(
        "osce-tntd",
        "osce",
        "OSCE Transnational Threats Department",
        "Irina Kovalenko",
        "irina.kovalenko@osce.example.org",
        (
            ("MD", "OSCE Mission to Moldova"),
            ("BA", "OSCE Mission to Bosnia and Herzegovina"),
            ("RS", "OSCE Mission to Serbia"),
            ("MK", "OSCE Mission to Skopje"),
            ("AL", "OSCE Presence in Albania"),
            ("KG", "OSCE Programme Office in Bishkek"),
        ),
        0.14,
    ),
    Partner(
        "gov-ua-mvs",
        "foreign-government",
        "Ministry of Internal Affairs of Ukraine",
        "Oksana Melnyk",
        "o.melnyk@mvs.example.gov.ua",
        (("UA", None),),
        0.08,
    ),
    Partner(
        "gov-co-policia-nacional",
        "foreign-government",
        "Policía Nacional de Colombia",
        "Andrés Restrepo",
        "andres.restrepo@policia.example.gov.co",
        (("CO", None),),
        0.06,
    ),
    Partner(
        "fcdo-bhc-nairobi",
        "uk-embassy",
        "British High Commission Nairobi",
        "Rachel Hughes",
        "rachel.hughes@fcdo.example.gov.uk",
        (("KE", None), ("SO", None)),
        0.08,
    ),
    Partner(
        "fcdo-bhc-abuja",
        "uk-embassy",
        "British High Commission Abuja",
        "David Okafor",
        "david.okafor@fcdo.example.gov.uk",
        (("NG", None),),
        0.07,
    ),
    Partner(
        "fcdo-bhc-islamabad",
        "uk-embassy",
        "British High Commission Islamabad",
        "Sarah Mitchell",
        "sarah.mitchell@fcdo.example.gov.uk",
        (("PK", None),),
        0.04,
    ),
    Partner(
        "fcdo-be-manila",
        "uk-embassy",
        "British Embassy Manila",
        "James Whitfield",
        "james.whitfield@fcdo.example.gov.uk",
        (("PH", None),),
        0.03,
    ),
)

#: UK forces offering officers: (force claim, e-mail domain).
#: UK forces: (id, the force claim of its liaison officers' tokens; name; e-mail domain).
FORCES: tuple[tuple[str, str, str], ...] = (
    ("met", "Metropolitan Police Service", "met.police.example.uk"),
    ("police-scotland", "Police Scotland", "scotland.police.example.uk"),
    ("west-midlands", "West Midlands Police", "westmidlands.police.example.uk"),
    ("psni", "Police Service of Northern Ireland", "psni.police.example.uk"),
    ("gmp", "Greater Manchester Police", "gmp.police.example.uk"),
    ("west-yorkshire", "West Yorkshire Police", "westyorkshire.police.example.uk"),
    ("thames-valley", "Thames Valley Police", "thamesvalley.police.example.uk"),
    ("merseyside", "Merseyside Police", "merseyside.police.example.uk"),
    ("south-wales", "South Wales Police", "south-wales.police.example.uk"),
    ("kent", "Kent Police", "kent.police.example.uk"),
)
FORCE_WEIGHTS = (0.24, 0.14, 0.1, 0.1, 0.1, 0.08, 0.07, 0.06, 0.06, 0.05)

#: Hub staff (token subjects). Separation of duties: assessor, board approver and minister differ.
TRIAGE_OFFICERS = ("hub.triage.priya-shah", "hub.triage.tom-baker")
BOARD_APPROVER = "ipab.chair.ruth-osei"
MINISTER = "minister.fcdo.security"
DEPLOYMENT_MANAGER = "hub.deployments.mark-evans"

LANGUAGES = {
    "CF": ["French", "Sango"],
    "CD": ["French", "Lingala"],
    "HT": ["French", "Haitian Creole"],
    "ML": ["French", "Bambara"],
    "LY": ["Arabic"],
    "IQ": ["Arabic", "Kurdish"],
    "SO": ["Somali", "Arabic"],
    "CO": ["Spanish"],
    "UA": ["Ukrainian", "Russian"],
    "MD": ["Romanian", "Russian"],
    "GE": ["Georgian", "Russian"],
    "KG": ["Russian", "Kyrgyz"],
    "BA": ["Bosnian"],
    "RS": ["Serbian"],
    "AF": ["Dari", "Pashto"],
    "PK": ["Urdu"],
    "PH": ["Filipino"],
    "KE": ["Swahili"],
}

#: Per capability: a title, what the officers will do, the skills sought.
WORK: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "executive-policing": (
        "Executive policing officers",
        "serve with executive powers alongside the host police while local capacity is rebuilt",
        ("patrol supervision", "custody"),
    ),
    "training": (
        "Police trainers",
        "design and deliver a train-the-trainer programme at the national police academy",
        ("adult education", "curriculum design"),
    ),
    "monitoring-reporting": (
        "Monitoring and reporting officers",
        "monitor policing practice and report on compliance with human rights standards",
        ("human rights monitoring", "report writing"),
    ),
    "mentoring-advising": (
        "Strategic police advisers",
        "mentor senior commanders on police reform and institutional development",
        ("police reform", "strategic planning"),
    ),
    "programme-management": (
        "Programme manager for police reform",
        "manage a donor-funded police development programme and its reporting",
        ("programme management", "budgeting"),
    ),
    "public-order": (
        "Public order advisers",
        "advise the public order unit on planning and command ahead of the elections",
        ("public order command", "event planning"),
    ),
    "investigations": (
        "Senior investigating officers",
        "mentor detectives on major crime investigations and case file preparation",
        ("major crime investigation", "interviewing"),
    ),
    "forensics": (
        "Forensic advisers",
        "help establish crime scene examination and evidence handling procedures",
        ("crime scene management", "chain of custody"),
    ),
    "intelligence": (
        "Intelligence analysts",
        "build an intelligence-led policing capability and analyst training",
        ("intelligence analysis", "source handling"),
    ),
    "serious-organised-crime": (
        "Serious and organised crime advisers",
        "support a specialised unit targeting trafficking networks",
        ("financial investigation", "covert operations"),
    ),
    "sgbv": (
        "SGBV specialist investigators",
        "support the specialised unit investigating sexual and gender-based violence",
        ("victim-centred interviewing", "safeguarding"),
    ),
    "community-policing": (
        "Community policing advisers",
        "help design neighbourhood policing pilots and community engagement",
        ("neighbourhood policing", "community engagement"),
    ),
    "cybercrime": (
        "Cybercrime investigators",
        "support the cybercrime unit with digital investigations and capacity building",
        ("digital forensics", "online investigation"),
    ),
    "border-security": (
        "Border security mentors",
        "mentor border police at the main crossing points on risk-based controls",
        ("border management", "document examination"),
    ),
    "leadership": (
        "Police leadership mentors",
        "deliver a leadership development programme for mid-ranking officers",
        ("leadership development", "coaching"),
    ),
}

RANKS = ("Constable", "Sergeant", "Inspector", "Chief Inspector", "Superintendent")
RANK_WEIGHTS = (0.15, 0.35, 0.3, 0.15, 0.05)
FEMALE = (
    "Aisha",
    "Claire",
    "Emma",
    "Fiona",
    "Grace",
    "Hannah",
    "Kate",
    "Laura",
    "Megan",
    "Nia",
    "Olivia",
    "Rachel",
    "Sophie",
    "Zara",
    "Siobhan",
    "Catriona",
    "Priya",
    "Joanne",
)
MALE = (
    "Adam",
    "Ben",
    "Callum",
    "Daniel",
    "Ewan",
    "Gareth",
    "Harry",
    "Imran",
    "Jack",
    "Liam",
    "Mohammed",
    "Niall",
    "Owen",
    "Rhys",
    "Sean",
    "Tariq",
    "Kwame",
    "Connor",
)
NEUTRAL = ("Alex", "Jordan", "Sam", "Robin", "Jamie", "Morgan")
SURNAMES = (
    "Smith",
    "Jones",
    "Williams",
    "Taylor",
    "Brown",
    "Davies",
    "Evans",
    "Wilson",
    "Thomas",
    "Roberts",
    "Campbell",
    "Stewart",
    "Murray",
    "Patel",
    "Khan",
    "Ali",
    "Hughes",
    "Walker",
    "Wright",
    "Robertson",
    "O'Neill",
    "McLaughlin",
    "Kaur",
    "Okoro",
    "Begum",
    "Clarke",
    "Morgan",
    "Fraser",
    "Reid",
    "Edwards",
)
QUESTIONS = (
    "Will the host state provide armoured transport and secure accommodation?",
    "Which national counterpart will the officers work with day to day?",
    "Is the mission's duty-of-care framework available for our review?",
    "Can the tour start later than the needed-by date if vetting takes longer?",
    "Is interpretation provided, or must the officers speak the local language?",
)
ANSWERS = (
    "Yes: the mission provides armoured vehicles with drivers and accommodation in the compound.",
    "The deputy inspector general's reform directorate; a liaison officer is already appointed.",
    "Attached to this reply; the mission's security cell briefs every arrival.",
    "A start up to six weeks later is acceptable to the mission.",
    "Interpreters are provided by the mission for all working meetings.",
)
REJECTIONS = {
    "out-of-scope": "Military rather than policing assistance; referred to MOD.",
    "insufficient-capacity": "No UK force can release this specialism within the window.",
    "duplicate": "Already covered by the mission's earlier request.",
    "unacceptable-risk": "OSJA found serious human-rights risk that cannot be mitigated.",
    "no-funding": "No CSSF allocation remains for this theme this financial year.",
    "not-hmg-priority": "Outside current HMG priority countries and themes.",
    "partner-withdrew-support": "The host state has withdrawn its consent.",
}
