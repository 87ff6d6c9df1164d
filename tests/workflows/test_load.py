"""Workflow files: the bundled ones load; every kind of mistake is located and explained."""

from __future__ import annotations

import textwrap

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from csflow.errors import DefinitionError
from csflow.workflows import (
    DEFINITIONS,
    STAY,
    bundled_workflows,
    compile_workflow,
    diagram,
    load_workflow,
    parse_workflow,
)

GOOD = textwrap.dedent("""\
    workflow: ticket
    version: 1
    initial: open
    roles: [agent, lead]
    states:
      open: {}
      working: {sla: {target: 2 business days, calendar: uk-england-wales, warn_at: 75%}}
      done: {terminal: true}
    transitions:
      - trigger: take
        source: open
        dest: working
        roles: [agent]
        requires: {note: str, hours: {type: int, min: 0}}
      - trigger: finish
        source: working
        dest: done
      - trigger: on
        source: "*"
        dest: "="
""")


def problems(text: str) -> list[tuple[int | None, int | None, str]]:
    with pytest.raises(DefinitionError) as info:
        parse_workflow(text, "wf.yaml")
    assert all(p.file == "wf.yaml" for p in info.value.problems)
    return [(p.line, p.column, p.message) for p in info.value.problems]


def test_good_file_loads_and_yaml_on_stays_a_string() -> None:
    wf = parse_workflow(GOOD)
    assert [t.trigger for t in wf.transitions] == ["take", "finish", "on"]
    # '*' expands to every non-terminal state; '=' stays.
    assert wf.transitions[2].sources == ("open", "working")
    assert wf.states["working"].sla is not None
    assert str(wf.states["working"].sla.warn_at) == "0.75"
    assert wf.terminal_states == {"done"}


def test_bundled_workflows_load_and_compile() -> None:
    names = {wf.name for wf in bundled_workflows()}
    assert "complaint" in names
    for wf in bundled_workflows():
        c = compile_workflow(wf)
        assert c.triggers == {t.trigger for t in wf.transitions}
        assert "stateDiagram-v2" in diagram(wf, "mermaid")
        assert diagram(wf, "dot").startswith('digraph "')


def test_destination_table_agrees_with_triggering_the_machine() -> None:
    """The engine looks destinations up instead of running the machine's
    trigger; for every (state, trigger) of every bundled workflow, the table
    must say what the trigger does."""

    class Model:
        state = ""

    for wf in bundled_workflows():
        c = compile_workflow(wf)
        assert set(c.dests) == set(c.transitions)
        for (state, trigger), dest in c.dests.items():
            model = Model()
            model.state = state
            c.machine.events[trigger].trigger(model)
            assert dest == model.state == (
                state if c.transitions[(state, trigger)].dest == STAY
                else c.transitions[(state, trigger)].dest
            ), (wf.name, state, trigger)


def test_unknown_state_is_located() -> None:
    found = problems(GOOD.replace("dest: done", "dest: dne"))
    assert found == [
        (17, 11, "unknown state 'dne'; declared: open, working, done (or '=' to stay)")
    ]


def test_duplicate_trigger_from_same_source() -> None:
    text = GOOD.replace(
        "  - trigger: on\n",
        "  - trigger: finish\n    source: working\n    dest: done\n  - trigger: on\n",
    )
    ((line, col, msg),) = problems(text)
    assert (line, col) == (18, 14)
    assert "trigger 'finish' from state 'working' is already defined (line 15)" in msg


def test_unreachable_state_and_missing_terminal() -> None:
    text = GOOD.replace("done: {terminal: true}", "done: {}\n  island: {}")
    found = {msg for _, _, msg in problems(text)}
    assert "no terminal state: mark at least one state 'terminal: true'" in found
    assert any("state 'island' cannot be reached from 'open'" in m for m in found)


def test_bad_field_type_names_the_field() -> None:
    ((line, col, msg),) = problems(GOOD.replace("hours: {type: int, min: 0}", "hours: integer"))
    assert (line, col) == (14, 34)
    assert msg.startswith("field hours: unknown type 'integer'")


def test_schema_errors_are_located_and_collected() -> None:
    text = GOOD.replace("version: 1", "version: one").replace("roles: [agent]", "rolez: [agent]")
    found = problems(text)
    assert (
        2,
        10,
        "version: Input should be a valid integer, unable to parse string as an integer",
    ) in found
    assert any(line == 13 and "unknown field" in m for line, _, m in found)


def test_role_not_declared_and_bad_reference() -> None:
    text = GOOD.replace("roles: [agent]\n", "roles: [agnet]\n    set: {by: $actor.name}\n")
    msgs = [m for _, _, m in problems(text)]
    assert any("role 'agnet' is not in the workflow's roles: agent, lead" in m for m in msgs)
    assert any("unknown reference '$actor.name'" in m for m in msgs)


def test_yaml_syntax_error_and_duplicate_key() -> None:
    assert problems("workflow: x\n  bad: [\n")[0][2].startswith("not valid YAML")
    ((line, col, msg),) = problems(GOOD.replace("initial: open", "initial: open\ninitial: done"))
    assert (line, col) == (4, 1) and "duplicate key 'initial'" in msg


def test_missing_file_is_a_definition_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DefinitionError, match="cannot read workflow file"):
        load_workflow(tmp_path / "nope.yaml")


def test_sla_validation() -> None:
    msgs = [
        m
        for _, _, m in problems(
            GOOD.replace("2 business days", "soon")
            .replace("warn_at: 75%", "warn_at: 175%")
            .replace("uk-england-wales", "mars")
        )
    ]
    assert any("unknown calendar 'mars'; bundled: au-act" in m for m in msgs)
    assert any("SLA target: cannot read duration 'soon'" in m for m in msgs)
    assert any("warn_at is a share of the target" in m for m in msgs)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.data())
def test_mutated_workflow_files_raise_only_definition_errors(data: st.DataObject) -> None:
    """Any edit of a valid file either still loads or raises DefinitionError, nothing else."""
    source = (DEFINITIONS / "complaint.yaml").read_text()
    lines = source.splitlines()
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(lines) - 1))
        op = data.draw(st.sampled_from(["drop", "dup", "cut", "junk", "indent"]))
        if op == "drop":
            del lines[i]
        elif op == "dup":
            lines.insert(i, lines[i])
        elif op == "cut":
            lines[i] = lines[i][: data.draw(st.integers(0, max(0, len(lines[i]))))]
        elif op == "junk":
            lines[i] += data.draw(
                st.sampled_from([" x", ": [", "?", " {a: 1}", "*", " &a", " - 3"])
            )
        else:
            lines[i] = "  " + lines[i]
        if not lines:
            lines = [""]
    try:
        compile_workflow(parse_workflow("\n".join(lines) + "\n", "m.yaml"))
    except DefinitionError as exc:
        assert exc.problems and all(p.file == "m.yaml" for p in exc.problems)


def test_a_file_that_is_not_utf8_is_a_definition_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "latin1.yaml"
    path.write_bytes("workflow: caf\xe9\n".encode("latin-1"))
    with pytest.raises(DefinitionError, match="cannot read workflow file: 'utf-8' codec"):
        load_workflow(path)
