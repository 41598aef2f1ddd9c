"""GitHub's filter patterns, tested against the examples of GitHub's own documentation
(workflow syntax, "Filter pattern cheat sheet": patterns to match file paths, and patterns
to match branches and tags), plus this project's image trigger lists."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from fullstack_build.errors import ConfigError
from fullstack_build.metadata.pathfilter import changed_images, matches, translate

# (patterns, paths that match, paths that do not)
DOCUMENTED_PATHS = [
    pytest.param(["*"], ["README.md", "server.rb"], ["docs/README.md"], id="star"),
    pytest.param(["*.jsx?"], ["page.js", "page.jsx"], ["page.jsxx", "a/page.js"],
                 id="question-mark-optional-char"),
    pytest.param(["**"], ["all/the/files.md", "x"], [], id="double-star"),
    pytest.param(["*.js"], ["app.js", "index.js"], ["js/index.js"], id="star-js-root-only"),
    pytest.param(["**.js"], ["index.js", "js/index.js", "src/js/app.js"], ["index.jsx"],
                 id="double-star-js"),
    pytest.param(["docs/*"], ["docs/README.md", "docs/file.txt"], ["docs/mona/octocat.txt"],
                 id="docs-star"),
    pytest.param(["docs/**"], ["docs/README.md", "docs/mona/octocat.txt"], ["README.md"],
                 id="docs-double-star"),
    pytest.param(["docs/**/*.md"],
                 ["docs/README.md", "docs/mona/hello-world.md", "docs/a/markdown/file.md"],
                 ["docs/a/file.txt"], id="docs-any-md"),
    pytest.param(["**/docs/**"],
                 ["docs/hello.md", "dir/docs/my-file.txt", "space/docs/plan/space.doc"],
                 ["documents/x"], id="docs-anywhere"),
    pytest.param(["**/README.md"], ["README.md", "js/README.md"], ["README.mdx"],
                 id="readme-anywhere"),
    pytest.param(["**/*src/**"], ["a/src/app.js", "my-src/code/js/app.js"], ["src-a/x"],
                 id="src-suffix-folder"),
    pytest.param(["**/*-post.md"], ["my-post.md", "path/their-post.md"], ["post.md"],
                 id="post-suffix"),
    pytest.param(["**/migrate-*.sql"],
                 ["migrate-10909.sql", "db/migrate-v1.0.sql", "db/sept/migrate-v1.sql"],
                 ["migrate.sql"], id="migrate-prefix"),
    pytest.param(["*.md", "!README.md"], ["hello.md"], ["README.md", "docs/hello.md"],
                 id="negation"),
    pytest.param(["*.md", "!README.md", "README*"], ["hello.md", "README.md", "README.doc"],
                 [], id="re-include-after-negation"),
]

DOCUMENTED_REFS = [
    pytest.param(["feature/*"], ["feature/my-branch", "feature/your-branch"],
                 ["feature/beta-a/my-branch"], id="feature-star"),
    pytest.param(["feature/**"],
                 ["feature/beta-a/my-branch", "feature/your-branch", "feature/mona/the/octocat"],
                 ["features/x"], id="feature-double-star"),
    pytest.param(["main", "releases/mona-the-octocat"], ["main", "releases/mona-the-octocat"],
                 ["main2"], id="exact-names"),
    pytest.param(["*"], ["main", "releases"], ["releases/v1"], id="star-no-slash"),
    pytest.param(["**"], ["all/the/branches", "every/tag"], [], id="double-star-all"),
    pytest.param(["*feature"], ["mona-feature", "feature", "ver-10-feature"], ["feature-x"],
                 id="star-feature"),
    pytest.param(["v2*"], ["v2", "v2.0", "v2.9"], ["v1"], id="v2-star"),
    pytest.param(["v[12].[0-9]+.[0-9]+"], ["v1.10.1", "v2.0.0"], ["v3.0.0", "v1.x.0"],
                 id="semver-ranges-plus"),
    pytest.param(["Octo*"], ["Octocat"], [], id="octo-star"),
    pytest.param(["[CB]at"], ["Cat", "Bat"], ["Rat"], id="bracket-list"),
    pytest.param(["[1-2]00"], ["100", "200"], ["300"], id="bracket-range"),
]


@pytest.mark.parametrize(("patterns", "yes", "no"), DOCUMENTED_PATHS + DOCUMENTED_REFS)
def test_github_documented_examples(patterns: list[str], yes: list[str], no: list[str]) -> None:
    for path in yes:
        assert matches(patterns, path), (patterns, path)
    for path in no:
        assert not matches(patterns, path), (patterns, path)


@pytest.mark.parametrize(
    ("patterns", "path", "expected"),
    [
        pytest.param(["!*.md"], "a.md", False, id="only-negative-includes-nothing"),
        pytest.param([], "a", False, id="no-patterns"),
        pytest.param(["a+b"], "aaab", True, id="plus-repeats"),
        pytest.param(["a+b"], "b", False, id="plus-needs-one"),
        pytest.param(["x!y"], "x!y", True, id="bang-not-first-is-literal"),
        pytest.param(["a.b"], "axb", False, id="dot-is-literal"),
        pytest.param(["\\*.md"], "*.md", True, id="escaped-star"),
        pytest.param(["\\*.md"], "a.md", False, id="escaped-star-literal-only"),
        pytest.param(["(a|b)"], "(a|b)", True, id="regex-chars-literal"),
        pytest.param(["app/**", "!**/*.md", "app/README.md"], "app/README.md", True,
                     id="last-match-wins"),
    ],
)
def test_semantics(patterns: list[str], path: str, expected: bool) -> None:
    assert matches(patterns, path) is expected


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        pytest.param("[a-", "without a closing", id="unclosed"),
        pytest.param("[]", "empty", id="empty-brackets"),
        pytest.param("[a-Z]", "range a-Z", id="cross-range"),
        pytest.param("[.]", "only letters", id="punctuation-in-brackets"),
        pytest.param("?a", "needs a character before", id="leading-question"),
        pytest.param("a\\", "lone", id="trailing-backslash"),
        pytest.param("!", "negates nothing", id="bare-bang"),
        pytest.param("", "empty path filter", id="empty"),
    ],
)
def test_bad_patterns(pattern: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        matches([pattern], "x")


def test_translate_examples() -> None:
    assert translate("**/README.md") == r"(?:.*/)?README\.md"
    assert translate("docs/*") == "docs/[^/]*"
    assert translate("*.jsx?") == r"[^/]*\.js(?:x)?"


# --- this project's images ----------------------------------------------------------------------
IMAGES = yaml.safe_load((Path(__file__).parents[2] / "invoke.yaml").read_text())["images"]
PATHS = {name: spec["paths"] for name, spec in IMAGES.items()}


@pytest.mark.parametrize(
    ("changed", "images"),
    [
        pytest.param(["sandbox/Dockerfile"], ("runtime",), id="sandbox-dockerfile"),
        pytest.param(["sandbox/README.md"], (), id="sandbox-docs-only"),
        pytest.param(["app/src/main.ts"], ("app",), id="app-code"),
        pytest.param(["prisma/schema.prisma"], ("app",), id="prisma"),
        pytest.param(["docs/x.md", "tasks.py"], (), id="neither"),
        pytest.param(["sandbox/x", "app/y"], ("app", "runtime"), id="both-in-config-order"),
    ],
)
def test_project_trigger_paths(changed: list[str], images: tuple[str, ...]) -> None:
    assert changed_images(PATHS, changed) == images


def test_repeated_globstars_answer_at_once() -> None:
    """`**/` twelve times hung Python's `re` (nested optional groups backtrack exponentially);
    the `regex` engine, with its time limit, answers at once."""
    started = time.monotonic()
    assert not matches(["**/" * 12 + "x"], "/".join(["a"] * 30))
    assert matches(["**/" * 12 + "x"], "a/b/x")
    assert time.monotonic() - started < 1
