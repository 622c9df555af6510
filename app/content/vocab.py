"""The fixed vocabularies the content uses. Each is documented here once and served in the OpenAPI
schema (as enums); the therapy types also at `/v1/therapy-types`."""

from enum import StrEnum


class Status(StrEnum):
    draft = "draft"
    published = "published"
    retracted = "retracted"


class TherapyType(StrEnum):
    probiotic = "probiotic"
    prebiotic = "prebiotic"
    microbiota_transplant = "microbiota-transplant"
    diet = "diet"
    lifestyle = "lifestyle"
    precision_medicine = "precision-medicine"
    dietary_supplement = "dietary-supplement"
    pharmacological = "pharmacological"
    exposure = "exposure"


THERAPY_TYPE_DESCRIPTIONS = {
    TherapyType.probiotic: "Live microorganisms taken to benefit the host (supplements, fermented products).",
    TherapyType.prebiotic: "Substrates, usually fibres, that feed beneficial microorganisms.",
    TherapyType.microbiota_transplant: "Transfer of a donor's microbial community, such as faecal "
    "microbiota transplantation.",
    TherapyType.diet: "Changes to what is eaten: fibre, fermented foods, polyphenols, less processed food.",
    TherapyType.lifestyle: "Behaviour other than diet: physical activity, stress management, sleep.",
    TherapyType.precision_medicine: "Treatment tailored to an individual's profile (microbiome, genome).",
    TherapyType.dietary_supplement: "Products taken by mouth to supplement the diet, other than probiotics "
    "and prebiotics.",
    TherapyType.pharmacological: "Medicines, including antibiotics and immunomodulators.",
    TherapyType.exposure: "Something a source names as affecting health that is not offered as a treatment, "
    "such as excessive antibiotic use.",
}


class CodeSystem(StrEnum):
    icd10cm = "icd10cm"
    mesh = "mesh"
    snomedct = "snomedct"


CODE_SYSTEM_URIS = {
    CodeSystem.icd10cm: "http://hl7.org/fhir/sid/icd-10-cm",
    CodeSystem.mesh: "http://id.nlm.nih.gov/mesh",
    CodeSystem.snomedct: "http://snomed.info/sct",
}


class EvidenceKind(StrEnum):
    clinical_trials = "clinical-trials"
    studies = "studies"
    ongoing_research = "ongoing-research"
    expert_opinion = "expert-opinion"
    background = "background"


class EvidenceStrength(StrEnum):
    """GRADE's four levels, applied to what the source lets a reader verify (no citation: at most low)."""

    high = "high"
    moderate = "moderate"
    low = "low"
    very_low = "very-low"


class Domain(StrEnum):
    gastroenterology = "gastroenterology"
    immunology = "immunology"
    rheumatology = "rheumatology"
    neurology = "neurology"
    microbiology = "microbiology"
    nutrition = "nutrition"
    psychiatry = "psychiatry"
    psychotherapy = "psychotherapy"
    pharmacy = "pharmacy"
    primary_care = "primary-care"
    genetics = "genetics"
    public_health = "public-health"


# Domains close enough that an expert in one speaks "near" their specialty in the other.
_NEIGHBOURS = [
    ("gastroenterology", "microbiology"),
    ("gastroenterology", "nutrition"),
    ("gastroenterology", "immunology"),
    ("immunology", "rheumatology"),
    ("immunology", "microbiology"),
    ("immunology", "neurology"),
    ("neurology", "psychiatry"),
    ("psychiatry", "psychotherapy"),
    ("pharmacy", "primary-care"),
    ("primary-care", "public-health"),
    ("genetics", "microbiology"),
    ("nutrition", "public-health"),
]
DOMAIN_NEIGHBOURS: dict[str, set[str]] = {}
for _a, _b in _NEIGHBOURS:
    DOMAIN_NEIGHBOURS.setdefault(_a, set()).add(_b)
    DOMAIN_NEIGHBOURS.setdefault(_b, set()).add(_a)


class SpecialtyFit(StrEnum):
    within = "within"
    near = "near"
    outside = "outside"


def specialty_fit(specialties: list[str], domains: list[str]) -> SpecialtyFit:
    """How close a quoted expert's specialties are to what the topic they speak on is about."""
    own, topic = set(specialties), set(domains)
    if own & topic:
        return SpecialtyFit.within
    if any(DOMAIN_NEIGHBOURS.get(s, set()) & topic for s in own):
        return SpecialtyFit.near
    return SpecialtyFit.outside


class Basis(StrEnum):
    """Where a field's content comes from: the source says it, or the editors inferred it."""

    stated = "stated"
    inferred = "inferred"
