"""Skill matching for course text: taxonomy names and their synonyms, then MiniLM similarity.

Real catalogues rarely spell a skill the way the taxonomy does ("Intro to Python" for Python
Fundamentals, "k8s", "visualisation"), so exact phrases tag few courses. Text is normalised
(case, British spellings, plurals, punctuation) and matched against each skill's name and the
maintained synonyms below, longest first so "Advanced SQL" wins over "SQL". A course that names no
skill is tagged with the skill whose description (name, domain and synonyms: the taxonomy carries
no prose) is most similar to the course text, when the cosine similarity clears a threshold
calibrated on the development set (``LEARNREC_METADATA_EMBEDDING_THRESHOLD``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Protocol

import numpy as np

from ml.agents.catalog import Skill

#: skill name -> other names real course pages use for it (the name itself always matches).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "Spreadsheet Analysis": ("spreadsheet", "excel", "google sheets", "pivot table", "vlookup"),
    "SQL Basics": ("sql", "select queries", "relational database queries"),
    "Descriptive Statistics": ("statistics 101", "describing data", "summary statistics"),
    "Python for Data": ("python for data analysis", "python for data science", "numpy", "jupyter"),
    "Advanced SQL": ("window functions", "common table expressions", "recursive queries"),
    "Data Visualization": ("tableau", "power bi"),
    "Pandas": ("dataframe", "data wrangling"),
    "Inferential Statistics": ("hypothesis testing", "confidence intervals", "p-values", "t-tests"),
    "Data Modeling": ("dimensional modeling", "star schema", "data warehouse design", "data model"),
    "A/B Testing": ("ab testing", "a/b tests", "online experiments", "split testing"),
    "Machine Learning": ("scikit-learn", "supervised learning", "random forests", "ml models"),
    "dbt": ("analytics engineering", "data build tool"),
    "Apache Spark": ("spark", "pyspark", "spark sql"),
    "Deep Learning": ("neural networks", "pytorch", "tensorflow", "convolutional"),
    "Natural Language Processing": ("nlp", "transformers", "language models", "text classification"),
    "Time Series Forecasting": ("time series", "arima"),
    "Recommender Systems": ("recommendation engines", "recommendation systems", "collaborative filtering"),
    "MLOps": ("ml ops", "deploying ml models", "model serving", "model monitoring"),
    "Python Fundamentals": ("python", "programming in python", "python programming", "python basics"),
    "JavaScript Fundamentals": ("javascript", "js", "ecmascript"),
    "Git and Version Control": ("git", "github", "version control"),
    "HTML and CSS": ("html", "css", "flexbox"),
    "Object-Oriented Design": ("object oriented programming", "oop", "design patterns", "solid principles"),
    "Testing and TDD": ("tdd", "test-driven development", "unit tests", "unit testing", "pytest"),
    "REST APIs": ("rest api", "restful", "web api", "web services", "http api"),
    "React": ("react.js", "reactjs", "react hooks"),
    "Node.js": ("nodejs", "server-side javascript"),
    "Algorithms and Data Structures": ("algorithms", "data structures", "dynamic programming", "big-o"),
    "Databases for Developers": ("postgresql", "database design", "schema migrations"),
    "GraphQL": ("graph ql",),
    "Concurrency": ("concurrent programming", "parallel programming", "multithreading"),
    "System Design": ("scalable systems", "systems design", "designing scalable"),
    "Distributed Systems": ("paxos",),
    "Linux Command Line": ("linux", "command line"),
    "Networking Basics": ("networking", "computer networks", "tcp/ip", "subnetting"),
    "Cloud Fundamentals": ("cloud computing", "cloud concepts", "iaas", "saas"),
    "Bash Scripting": ("bash", "shell scripting", "shell scripts"),
    "Docker": ("containerization", "dockerfile", "docker compose"),
    "AWS Core Services": ("aws", "amazon web services", "ec2", "s3"),
    "CI/CD Pipelines": ("ci/cd", "continuous integration", "continuous delivery", "github actions"),
    "Infrastructure as Code": ("terraform", "cloudformation", "pulumi"),
    "Kubernetes": ("k8s", "container orchestration"),
    "Observability": ("prometheus", "grafana"),
    "Site Reliability Engineering": ("sre", "slos", "error budgets", "site reliability"),
    "Cloud Architecture": ("architecting on the cloud", "cloud solutions architect", "well-architected"),
    "Platform Engineering": ("internal developer platform", "platform teams"),
    "Security Fundamentals": ("cybersecurity", "cyber security", "information security", "infosec"),
    "Cryptography Basics": ("cryptography",),
    "Identity and Access Management": ("iam", "oauth", "single sign-on", "sso"),
    "Network Security": ("firewalls", "vpns", "intrusion detection", "securing networks"),
    "Web Application Security": ("owasp", "web app security", "xss", "sql injection", "web security"),
    "Threat Modeling": ("stride", "attack trees"),
    "Security Operations": ("secops", "siem", "security monitoring"),
    "Incident Response": ("security incidents", "breach response", "forensics"),
    "Penetration Testing": ("pentesting", "pen testing", "ethical hacking", "pentest"),
    "Cloud Security": ("securing aws", "securing cloud", "aws security", "azure security"),
    "Security Architecture": ("zero trust", "secure architecture"),
    "Design Principles": ("graphic design", "visual design", "visual hierarchy"),
    "Typography": ("typefaces", "fonts", "type design"),
    "Color Theory": ("color wheel", "color palettes"),
    "User Research": ("ux research", "user interviews", "journey maps"),
    "Wireframing": ("wireframes", "low-fidelity"),
    "Interaction Design": ("ixd", "interaction patterns", "microinteractions"),
    "Usability Testing": ("usability tests", "user testing"),
    "Information Architecture": ("card sorting", "site maps", "navigation design"),
    "Design Systems": ("design tokens", "component libraries"),
    "Accessibility": ("wcag", "a11y", "screen readers", "inclusive design"),
    "Motion Design": ("motion graphics",),
    "Service Design": ("service blueprints",),
    "Product Thinking": ("product sense", "product management basics", "product management"),
    "Agile and Scrum": ("agile", "scrum", "kanban"),
    "Writing User Stories": ("user stories", "acceptance criteria"),
    "Product Discovery": ("opportunity solution tree", "customer interviews"),
    "Roadmapping": ("roadmaps", "product roadmap"),
    "Product Analytics": ("retention cohorts", "amplitude", "mixpanel", "north-star metrics"),
    "Prioritization Frameworks": ("prioritization", "moscow"),
    "Experiment Design": ("designing experiments", "experimentation"),
    "Pricing Strategy": ("monetization", "willingness to pay"),
    "Product Strategy": ("product vision", "strategic bets"),
    "Platform Product Management": ("platform products", "platform pm"),
    "Business Communication": ("business writing", "professional communication"),
    "Project Management": ("gantt", "project planning", "pmp", "prince2"),
    "Financial Literacy": ("personal finance", "financial statements", "balance sheet"),
    "Excel Modeling": ("financial modeling", "financial models", "three-statement model"),
    "Business Analysis": ("business analyst", "requirements gathering", "bpmn"),
    "Stakeholder Management": ("stakeholder engagement",),
    "Negotiation": ("negotiating",),
    "Process Improvement": ("lean six sigma", "six sigma", "dmaic", "kaizen"),
    "Corporate Finance": ("capital budgeting", "discounted cash flow", "npv"),
    "People Leadership": ("leading teams", "people management", "first-time manager"),
    "Change Management": ("organizational change", "leading change"),
    "Strategic Planning": ("business strategy", "strategy planning", "okrs"),
    "Executive Leadership": ("c-suite",),
    "Marketing Fundamentals": ("marketing 101", "digital marketing", "marketing basics", "marketing mix"),
    "Copywriting": ("persuasive writing",),
    "Social Media Marketing": ("social media", "instagram", "tiktok", "linkedin marketing"),
    "Content Strategy": ("content marketing", "editorial calendar"),
    "Search Engine Optimization": ("seo", "organic search", "keyword research"),
    "Email Marketing": ("email campaigns", "newsletters"),
    "Web Analytics": ("google analytics", "ga4", "web traffic analysis"),
    "Paid Acquisition": ("ppc", "paid search", "google ads", "paid social"),
    "Marketing Automation": ("drip sequences", "drip campaigns", "hubspot", "marketing workflows"),
    "Growth Marketing": ("growth hacking", "growth loops"),
    "Brand Strategy": ("branding", "brand identity", "brand positioning"),
    "Marketing Mix Modeling": ("mmm", "media mix modeling", "marketing mix models"),
}

#: British spellings rewritten before matching, so one synonym covers both.
_SPELLINGS = (
    (re.compile(r"(?<=\w{3})is(ation|ing|e|ed)$"), r"iz\1"),
    (re.compile(r"(?<=e)ll(ing|ed)$"), r"l\1"),
)
_NOT_PLURAL = re.compile(r"(ss|us|sis|ics)$")


def _word(word: str) -> str:
    """One word's normal form: American spelling, singular."""
    word = word.replace("colour", "color")
    for pattern, replacement in _SPELLINGS:
        word = pattern.sub(replacement, word)
    if len(word) > 3 and word.endswith("s") and not _NOT_PLURAL.search(word):
        word = word[:-1]
    return word


def normalise(text: str) -> str:
    """Lower case, American spelling, singular words separated by single spaces (``/ . + # -`` kept
    inside words), so text and synonyms compare in one form."""
    words = (w.strip(".-") for w in re.findall(r"[\w/+#.-]+", text.lower().replace("&", " and ")))
    return " ".join(_word(w) for w in words if w)


class SkillMatcher:
    """Skill ids a text names, through each skill's name and synonyms."""

    def __init__(self, skills: Iterable[Skill]) -> None:
        self._by_phrase: dict[str, str] = {}
        for skill in skills:
            for phrase in (skill.name, *SYNONYMS.get(skill.name, ())):
                self._by_phrase.setdefault(normalise(phrase), skill.skill_id)
        phrases = sorted(self._by_phrase, key=len, reverse=True)
        self._pattern = re.compile(r"(?<![^ ])(" + "|".join(map(re.escape, phrases)) + r")(?![^ ])")

    def named(self, text: str) -> list[str]:
        """Skill ids named in ``text``, in order of first mention."""
        found = (self._by_phrase[m.group(1)] for m in self._pattern.finditer(normalise(text)))
        return list(dict.fromkeys(found))


def skill_description(skill: Skill) -> str:
    """What a skill is about, for the text model: the taxonomy has names only."""
    return f"{skill.name} ({skill.domain}): {', '.join(SYNONYMS.get(skill.name, ()))}"


class Embedder(Protocol):
    def encode(self, texts: list[str]) -> np.ndarray: ...


class EmbeddingTagger:
    """The taxonomy skill most similar to a course text, when similar enough.

    MiniLM loads on first use only: catalogues whose courses all name their skills never pay for it.
    """

    def __init__(self, skills: Iterable[Skill], threshold: float, embedder: Embedder | None = None) -> None:
        self._skills = list(skills)
        self.threshold = threshold
        self._embedder = embedder
        self._skill_vectors: np.ndarray | None = None
        self._cache: dict[str, np.ndarray] = {}

    def _model(self) -> Embedder:
        if self._embedder is None:
            from learnrec.vectors import MiniLMEmbedder

            self._embedder = MiniLMEmbedder()
        return self._embedder

    def similarities(self, text: str) -> np.ndarray:
        """Cosine similarity of ``text`` to each skill's description (taxonomy order)."""
        if self._skill_vectors is None:
            self._skill_vectors = self._model().encode([skill_description(s) for s in self._skills])
        if text not in self._cache:
            self._cache[text] = self._skill_vectors @ self._model().encode([text])[0]
        return self._cache[text]

    def tag(self, text: str) -> list[str]:
        """[the most similar skill id] if its similarity clears the threshold, else []."""
        scores = self.similarities(text)
        best = int(np.argmax(scores))
        return [self._skills[best].skill_id] if scores[best] >= self.threshold else []
