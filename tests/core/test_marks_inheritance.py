from audmw.marks import require_scopes, requirement_of
from audmw.requirements import Requirement


def test_subclass_marked_again_keeps_the_base_class_requirement() -> None:
    @require_scopes("admin")
    class Base:
        pass

    @require_scopes("read")
    class Child(Base):
        pass

    assert requirement_of(Child) == Requirement.of(["admin", "read"])
    assert requirement_of(Base) == Requirement.of(["admin"])
