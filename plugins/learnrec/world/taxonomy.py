"""The skill taxonomy, career goals and current roles of the synthetic world.

Written by hand rather than generated so that course titles, descriptions and agent outputs read
like a real catalogue. Skills carry a level (1 foundation .. 5 expert) and prerequisite skills;
career goals name the skills they need; roles say what a learner already knows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# domain -> [(skill name, level, prerequisite skill names)]
SKILLS_BY_DOMAIN: dict[str, list[tuple[str, int, tuple[str, ...]]]] = {
    "data": [
        ("Spreadsheet Analysis", 1, ()),
        ("SQL Basics", 1, ()),
        ("Descriptive Statistics", 1, ()),
        ("Python for Data", 2, ("Python Fundamentals",)),
        ("Advanced SQL", 2, ("SQL Basics",)),
        ("Data Visualization", 2, ("Spreadsheet Analysis",)),
        ("Pandas", 2, ("Python for Data",)),
        ("Inferential Statistics", 2, ("Descriptive Statistics",)),
        ("Data Modeling", 3, ("Advanced SQL",)),
        ("A/B Testing", 3, ("Inferential Statistics",)),
        ("Machine Learning", 3, ("Pandas", "Inferential Statistics")),
        ("dbt", 3, ("Advanced SQL", "Data Modeling")),
        ("Apache Spark", 4, ("Python for Data", "Advanced SQL")),
        ("Deep Learning", 4, ("Machine Learning",)),
        ("Natural Language Processing", 4, ("Machine Learning",)),
        ("Time Series Forecasting", 4, ("Machine Learning",)),
        ("Recommender Systems", 5, ("Machine Learning",)),
        ("MLOps", 5, ("Machine Learning", "Docker")),
    ],
    "software": [
        ("Python Fundamentals", 1, ()),
        ("JavaScript Fundamentals", 1, ()),
        ("Git and Version Control", 1, ()),
        ("HTML and CSS", 1, ()),
        ("Object-Oriented Design", 2, ("Python Fundamentals",)),
        ("Testing and TDD", 2, ("Python Fundamentals",)),
        ("REST APIs", 2, ("Python Fundamentals",)),
        ("TypeScript", 2, ("JavaScript Fundamentals",)),
        ("React", 3, ("JavaScript Fundamentals", "HTML and CSS")),
        ("Node.js", 3, ("JavaScript Fundamentals",)),
        ("Algorithms and Data Structures", 3, ("Python Fundamentals",)),
        ("Databases for Developers", 3, ("SQL Basics",)),
        ("GraphQL", 3, ("REST APIs",)),
        ("Concurrency", 4, ("Algorithms and Data Structures",)),
        ("System Design", 4, ("REST APIs", "Databases for Developers")),
        ("Distributed Systems", 5, ("System Design",)),
    ],
    "cloud": [
        ("Linux Command Line", 1, ()),
        ("Networking Basics", 1, ()),
        ("Cloud Fundamentals", 1, ()),
        ("Bash Scripting", 2, ("Linux Command Line",)),
        ("Docker", 2, ("Linux Command Line",)),
        ("AWS Core Services", 2, ("Cloud Fundamentals",)),
        ("CI/CD Pipelines", 3, ("Git and Version Control", "Docker")),
        ("Infrastructure as Code", 3, ("AWS Core Services",)),
        ("Kubernetes", 3, ("Docker",)),
        ("Observability", 3, ("Linux Command Line",)),
        ("Site Reliability Engineering", 4, ("Kubernetes", "Observability")),
        ("Cloud Architecture", 4, ("AWS Core Services", "Networking Basics")),
        ("Platform Engineering", 5, ("Kubernetes", "Infrastructure as Code")),
    ],
    "security": [
        ("Security Fundamentals", 1, ()),
        ("Cryptography Basics", 2, ("Security Fundamentals",)),
        ("Identity and Access Management", 2, ("Security Fundamentals",)),
        ("Network Security", 2, ("Networking Basics", "Security Fundamentals")),
        ("Web Application Security", 3, ("HTML and CSS", "Security Fundamentals")),
        ("Threat Modeling", 3, ("Security Fundamentals",)),
        ("Security Operations", 3, ("Network Security",)),
        ("Incident Response", 3, ("Security Operations",)),
        ("Penetration Testing", 4, ("Network Security", "Web Application Security")),
        ("Cloud Security", 4, ("AWS Core Services", "Identity and Access Management")),
        ("Security Architecture", 5, ("Threat Modeling", "Cloud Security")),
    ],
    "design": [
        ("Design Principles", 1, ()),
        ("Typography", 1, ()),
        ("Color Theory", 1, ()),
        ("User Research", 2, ("Design Principles",)),
        ("Wireframing", 2, ("Design Principles",)),
        ("Figma", 2, ("Design Principles",)),
        ("Interaction Design", 3, ("Wireframing",)),
        ("Usability Testing", 3, ("User Research",)),
        ("Information Architecture", 3, ("User Research",)),
        ("Design Systems", 4, ("Figma", "Interaction Design")),
        ("Accessibility", 3, ("Design Principles", "HTML and CSS")),
        ("Motion Design", 4, ("Interaction Design",)),
        ("Service Design", 5, ("User Research", "Information Architecture")),
    ],
    "product": [
        ("Product Thinking", 1, ()),
        ("Agile and Scrum", 1, ()),
        ("Writing User Stories", 2, ("Agile and Scrum",)),
        ("Product Discovery", 2, ("Product Thinking",)),
        ("Roadmapping", 2, ("Product Thinking",)),
        ("Product Analytics", 3, ("SQL Basics", "Product Thinking")),
        ("Prioritization Frameworks", 3, ("Roadmapping",)),
        ("Experiment Design", 3, ("A/B Testing", "Product Analytics")),
        ("Pricing Strategy", 4, ("Product Analytics",)),
        ("Product Strategy", 4, ("Roadmapping", "Product Discovery")),
        ("Platform Product Management", 5, ("Product Strategy",)),
    ],
    "business": [
        ("Business Communication", 1, ()),
        ("Project Management", 1, ()),
        ("Financial Literacy", 1, ()),
        ("Excel Modeling", 2, ("Spreadsheet Analysis", "Financial Literacy")),
        ("Business Analysis", 2, ("Business Communication",)),
        ("Stakeholder Management", 2, ("Business Communication",)),
        ("Negotiation", 3, ("Stakeholder Management",)),
        ("Process Improvement", 3, ("Business Analysis",)),
        ("Corporate Finance", 3, ("Excel Modeling",)),
        ("People Leadership", 3, ("Stakeholder Management",)),
        ("Change Management", 4, ("People Leadership",)),
        ("Strategic Planning", 4, ("Business Analysis", "Corporate Finance")),
        ("Executive Leadership", 5, ("Change Management", "Strategic Planning")),
    ],
    "marketing": [
        ("Marketing Fundamentals", 1, ()),
        ("Copywriting", 1, ()),
        ("Social Media Marketing", 2, ("Marketing Fundamentals",)),
        ("Content Strategy", 2, ("Copywriting",)),
        ("Search Engine Optimization", 2, ("Marketing Fundamentals",)),
        ("Email Marketing", 2, ("Copywriting",)),
        ("Web Analytics", 3, ("Marketing Fundamentals", "Spreadsheet Analysis")),
        ("Paid Acquisition", 3, ("Web Analytics",)),
        ("Marketing Automation", 3, ("Email Marketing",)),
        ("Growth Marketing", 4, ("Paid Acquisition", "A/B Testing")),
        ("Brand Strategy", 4, ("Content Strategy",)),
        ("Marketing Mix Modeling", 5, ("Web Analytics", "Inferential Statistics")),
    ],
}

# career goal -> (domain, target skills). Learners aiming at a goal seek these skills.
CAREER_GOALS: dict[str, tuple[str, tuple[str, ...]]] = {
    "data analyst": (
        "data",
        (
            "SQL Basics",
            "Advanced SQL",
            "Spreadsheet Analysis",
            "Data Visualization",
            "Descriptive Statistics",
            "Python for Data",
            "Pandas",
            "A/B Testing",
        ),
    ),
    "data scientist": (
        "data",
        (
            "Python for Data",
            "Pandas",
            "Inferential Statistics",
            "Machine Learning",
            "A/B Testing",
            "Deep Learning",
            "Natural Language Processing",
            "Time Series Forecasting",
        ),
    ),
    "data engineer": (
        "data",
        (
            "SQL Basics",
            "Advanced SQL",
            "Data Modeling",
            "dbt",
            "Apache Spark",
            "Python for Data",
            "Docker",
            "CI/CD Pipelines",
        ),
    ),
    "machine learning engineer": (
        "data",
        (
            "Python Fundamentals",
            "Machine Learning",
            "Deep Learning",
            "MLOps",
            "Docker",
            "Kubernetes",
            "Recommender Systems",
            "Testing and TDD",
        ),
    ),
    "backend developer": (
        "software",
        (
            "Python Fundamentals",
            "Object-Oriented Design",
            "REST APIs",
            "Databases for Developers",
            "Testing and TDD",
            "System Design",
            "Docker",
            "Git and Version Control",
        ),
    ),
    "frontend developer": (
        "software",
        (
            "HTML and CSS",
            "JavaScript Fundamentals",
            "TypeScript",
            "React",
            "Accessibility",
            "Testing and TDD",
            "Git and Version Control",
        ),
    ),
    "full-stack developer": (
        "software",
        (
            "JavaScript Fundamentals",
            "React",
            "Node.js",
            "REST APIs",
            "Databases for Developers",
            "GraphQL",
            "Docker",
        ),
    ),
    "cloud engineer": (
        "cloud",
        (
            "Linux Command Line",
            "Cloud Fundamentals",
            "AWS Core Services",
            "Docker",
            "Kubernetes",
            "Infrastructure as Code",
            "CI/CD Pipelines",
            "Cloud Architecture",
        ),
    ),
    "site reliability engineer": (
        "cloud",
        (
            "Linux Command Line",
            "Bash Scripting",
            "Kubernetes",
            "Observability",
            "Site Reliability Engineering",
            "Incident Response",
            "Concurrency",
        ),
    ),
    "security analyst": (
        "security",
        (
            "Security Fundamentals",
            "Network Security",
            "Security Operations",
            "Incident Response",
            "Threat Modeling",
            "Identity and Access Management",
        ),
    ),
    "ux designer": (
        "design",
        (
            "Design Principles",
            "User Research",
            "Wireframing",
            "Figma",
            "Interaction Design",
            "Usability Testing",
            "Accessibility",
            "Design Systems",
        ),
    ),
    "product manager": (
        "product",
        (
            "Product Thinking",
            "Product Discovery",
            "Roadmapping",
            "Writing User Stories",
            "Prioritization Frameworks",
            "Product Analytics",
            "Stakeholder Management",
            "Product Strategy",
        ),
    ),
    "business analyst": (
        "business",
        (
            "Business Analysis",
            "Spreadsheet Analysis",
            "Excel Modeling",
            "SQL Basics",
            "Process Improvement",
            "Stakeholder Management",
            "Data Visualization",
        ),
    ),
    "engineering manager": (
        "business",
        (
            "People Leadership",
            "Project Management",
            "Stakeholder Management",
            "Agile and Scrum",
            "System Design",
            "Change Management",
        ),
    ),
    "growth marketer": (
        "marketing",
        (
            "Marketing Fundamentals",
            "Web Analytics",
            "Paid Acquisition",
            "Search Engine Optimization",
            "Email Marketing",
            "A/B Testing",
            "Growth Marketing",
        ),
    ),
}

# current role -> (skills the role already has, typical level reached in them)
ROLES: dict[str, tuple[tuple[str, ...], float]] = {
    "student": ((), 0.0),
    "career changer": (("Business Communication", "Spreadsheet Analysis"), 1.0),
    "junior developer": (
        ("Python Fundamentals", "Git and Version Control", "JavaScript Fundamentals", "HTML and CSS"),
        2.0,
    ),
    "software engineer": (
        (
            "Python Fundamentals",
            "Git and Version Control",
            "Object-Oriented Design",
            "REST APIs",
            "Testing and TDD",
            "SQL Basics",
            "Linux Command Line",
        ),
        3.0,
    ),
    "analyst": (
        (
            "Spreadsheet Analysis",
            "SQL Basics",
            "Descriptive Statistics",
            "Data Visualization",
            "Excel Modeling",
        ),
        2.5,
    ),
    "designer": (("Design Principles", "Typography", "Color Theory", "Figma", "Wireframing"), 2.5),
    "marketer": (
        ("Marketing Fundamentals", "Copywriting", "Social Media Marketing", "Content Strategy"),
        2.5,
    ),
    "project manager": (
        ("Project Management", "Agile and Scrum", "Business Communication", "Stakeholder Management"),
        2.5,
    ),
    "it support": (
        ("Linux Command Line", "Networking Basics", "Security Fundamentals", "Cloud Fundamentals"),
        2.0,
    ),
    "team lead": (
        ("People Leadership", "Stakeholder Management", "Project Management", "Agile and Scrum"),
        3.0,
    ),
}


@dataclass(frozen=True)
class Taxonomy:
    """Array view of the taxonomy; index i is skill ``skill_ids[i]`` everywhere in the world."""

    skill_ids: np.ndarray  # (n_skills,) str, "S001".."S1xx"
    names: np.ndarray  # (n_skills,) str
    domains: np.ndarray  # (n_skills,) str
    domain_index: np.ndarray  # (n_skills,) int, index into domain_names
    domain_names: tuple[str, ...]
    levels: np.ndarray  # (n_skills,) int8, 1..5
    prerequisites: tuple[tuple[int, ...], ...]  # per skill, indices of prerequisite skills
    goal_names: tuple[str, ...]
    goal_domains: tuple[str, ...]
    goal_targets: tuple[tuple[int, ...], ...]  # per goal, indices of target skills
    role_names: tuple[str, ...]
    role_skills: tuple[tuple[int, ...], ...]
    role_levels: np.ndarray  # (n_roles,) float

    @property
    def n_skills(self) -> int:
        return len(self.skill_ids)

    def prerequisite_matrix(self) -> np.ndarray:
        """(n_skills, max_prereqs) int array of prerequisite indices, -1 padded."""
        width = max(1, max(len(p) for p in self.prerequisites))
        out = np.full((self.n_skills, width), -1, dtype=np.int32)
        for i, prereqs in enumerate(self.prerequisites):
            out[i, : len(prereqs)] = prereqs
        return out


def build_taxonomy() -> Taxonomy:
    rows = [(domain, *skill) for domain, skills in SKILLS_BY_DOMAIN.items() for skill in skills]
    names = [name for _, name, _, _ in rows]
    index = {name: i for i, name in enumerate(names)}
    if len(index) != len(names):
        raise ValueError("duplicate skill names in the taxonomy")
    unknown = sorted({p for *_, prereqs in rows for p in prereqs} - set(index))
    unknown += sorted({s for _, targets in CAREER_GOALS.values() for s in targets} - set(index))
    unknown += sorted({s for skills, _ in ROLES.values() for s in skills} - set(index))
    if unknown:
        raise ValueError(f"taxonomy refers to unknown skills: {unknown}")
    domain_names = tuple(SKILLS_BY_DOMAIN)
    return Taxonomy(
        skill_ids=np.array([f"S{i + 1:03d}" for i in range(len(names))]),
        names=np.array(names),
        domains=np.array([domain for domain, *_ in rows]),
        domain_index=np.array([domain_names.index(domain) for domain, *_ in rows], dtype=np.int16),
        domain_names=domain_names,
        levels=np.array([level for _, _, level, _ in rows], dtype=np.int8),
        prerequisites=tuple(tuple(index[p] for p in prereqs) for *_, prereqs in rows),
        goal_names=tuple(CAREER_GOALS),
        goal_domains=tuple(domain for domain, _ in CAREER_GOALS.values()),
        goal_targets=tuple(tuple(index[s] for s in targets) for _, targets in CAREER_GOALS.values()),
        role_names=tuple(ROLES),
        role_skills=tuple(tuple(index[s] for s in skills) for skills, _ in ROLES.values()),
        role_levels=np.array([level for _, level in ROLES.values()], dtype=np.float32),
    )
