"""The README's two commands are the ones a newcomer and CI really run."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    blocks = text.split("```sh\n")[1:3]
    return [block.split("\n```")[0].strip() for block in blocks]


def test_readme_starts_with_what_the_project_is_then_two_commands():
    text = (ROOT / "README.md").read_text()
    assert text.startswith("# Fabbooking\n")
    run, test = readme_commands()
    assert "fabbooking demo" in run and "fabbooking serve" in run
    assert "pytest" in test


def test_ci_runs_the_readme_test_command_word_for_word():
    _, test = readme_commands()
    ci_script = (ROOT / ".ci" / "run").read_text()
    assert test in ci_script.splitlines()
