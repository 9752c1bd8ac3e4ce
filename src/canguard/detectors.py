"""What a detector is: one identity used by the rules, evaluation, summary, figures and efficiency.

A detector's name (``gat_student_scratch``, ``fusion_teacher``, ``rules``) is what
appears in paths and tables; :meth:`Detector.parse` is the only place a name is
read back.

==================  ========  ===============  ============  ==========  =======
name                family    role             architecture  distilled   kind
==================  ========  ===============  ============  ==========  =======
rules               rules     (none)           (none)        no          rule
gat_teacher         gat       teacher          teacher       no          classifier
gat_student         gat       student          student       yes         classifier
gat_student_scratch gat       student_scratch  student       no          classifier
vgae_*              vgae      (as for gat)                               anomaly
fusion_teacher      fusion    teacher          (members')    no          fusion
fusion_student      fusion    student          (members')    yes         fusion
==================  ========  ===============  ============  ==========  =======

``architecture`` is the size table a trained model is built from
(:data:`canguard.models.sizes.DEFAULT_SIZES`): a student without teacher has
the student's architecture; what distillation is worth is the distance between
the two students.
"""

from __future__ import annotations

from dataclasses import dataclass

FAMILIES = ("gat", "vgae")  # trained model families
ROLES = ("teacher", "student", "student_scratch")
FUSED_ROLES = ("teacher", "student")  # a fusion of the teachers, of the distilled students
RULES = "rules"
FUSION = "fusion"

KINDS = {"gat": "classifier", "vgae": "anomaly", FUSION: "fusion", RULES: "rule"}
_FAMILY_LABELS = {"gat": "GAT", "vgae": "VGAE", FUSION: "Fusion", RULES: "Rule baseline"}
_ROLE_LABELS = {"teacher": "teacher", "student": "student", "student_scratch": "student (scratch)", "": ""}


@dataclass(frozen=True, order=True)
class Detector:
    family: str  # gat | vgae | fusion | rules
    role: str = ""  # teacher | student | student_scratch; "" for the rule baseline

    def __post_init__(self):
        if self.family == RULES:
            ok = self.role == ""
        elif self.family == FUSION:
            ok = self.role in FUSED_ROLES
        else:
            ok = self.family in FAMILIES and self.role in ROLES
        if not ok:
            raise ValueError(f"no detector of family {self.family!r} and role {self.role!r}")

    @classmethod
    def parse(cls, name: str) -> Detector:
        """``"gat_student_scratch"`` -> ``Detector("gat", "student_scratch")``."""
        family, _, role = name.partition("_")
        try:
            return cls(family, role)
        except ValueError:
            raise ValueError(f"{name!r} is not a detector name; known: {', '.join(all_names())}") from None

    @property
    def name(self) -> str:
        return f"{self.family}_{self.role}" if self.role else self.family

    @property
    def kind(self) -> str:
        """classifier (GAT), anomaly (VGAE), fusion or rule."""
        return KINDS[self.family]

    @property
    def trained(self) -> bool:
        """A model with a checkpoint (not the rule baseline, not a fusion)."""
        return self.family in FAMILIES

    @property
    def distilled(self) -> bool:
        return self.role == "student"

    @property
    def architecture(self) -> str:
        """The size table of a trained model: ``teacher`` or ``student``."""
        if not self.trained:
            raise ValueError(f"{self.name} is not a trained model")
        return "teacher" if self.role == "teacher" else "student"

    @property
    def members(self) -> tuple[Detector, ...]:
        """The detectors a fusion ORs (the GAT and the VGAE of its role)."""
        return tuple(Detector(f, self.role) for f in FAMILIES) if self.family == FUSION else ()

    @property
    def label(self) -> str:
        """``"GAT student (scratch)"``: the name in figures."""
        return f"{_FAMILY_LABELS[self.family]} {_ROLE_LABELS[self.role]}".strip()

    def __str__(self) -> str:
        return self.name


def trained_detectors(families=FAMILIES) -> list[Detector]:
    """Teacher, distilled student and student without teacher of each family, in table order."""
    return [Detector(f, r) for f in FAMILIES if f in families for r in ROLES]


def fusions(families=FAMILIES) -> list[Detector]:
    """The GAT + VGAE fusions, where both families train."""
    return [Detector(FUSION, r) for r in FUSED_ROLES] if set(families) >= set(FAMILIES) else []


def evaluated_detectors(families=FAMILIES) -> list[Detector]:
    """Every detector with metrics, in table order: the rule baseline, the trained models, the fusions."""
    return [Detector(RULES), *trained_detectors(families), *fusions(families)]


def all_names() -> list[str]:
    return [d.name for d in evaluated_detectors()]


def table_order(name: str) -> int:
    """Position of a detector name in tables (unknown names last)."""
    names = all_names()
    return names.index(name) if name in names else len(names)
