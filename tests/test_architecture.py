"""The direction of the imports between the product's packages (docs/architecture.md draws it).

Read from the source with `ast`, so a test fails the day someone adds an import the other way round.
Every import counts, also one inside a function: a lazy import hides a circle, it does not remove it.
"""
import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PRODUCT = ("mediaspace", "integrations", "onedrive")


def module_name(path):
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_of(path):
    """The package a module's relative imports start from."""
    return module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]


def imported_names(source, package):
    """Every dotted name the source imports, with relative imports made absolute."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)  # `from . import models`
    return names


def import_graph(modules):
    """{module: the modules it imports among `modules`}; `modules` maps a name to (source, package)."""
    graph = {}
    for module, (source, package) in modules.items():
        graph[module] = set()
        for name in imported_names(source, package):
            while name and name not in modules:  # a name imported from a module counts as that module
                name = name.rpartition(".")[0]
            if name and name != module:
                graph[module].add(name)
    return graph


def cycles(graph):
    """The groups of modules that import each other in a circle (Tarjan's strongly connected components)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(module):
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph[module]:
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while not group or group[-1] != module:
                group.append(stack.pop())
                on_stack.discard(group[-1])
            if len(group) > 1:
                found.append(sorted(group))

    for module in graph:
        if module not in index:
            visit(module)
    return found


def files_under(package, *, outside=()):
    return [path for path in sorted((REPO / package).rglob("*.py"))
            if not any(path.is_relative_to(REPO / folder) for folder in outside)]


def test_product_modules_import_each_other_in_one_direction():
    modules = {module_name(path): (path.read_text(), package_of(path))
               for package in PRODUCT for path in files_under(package)}
    assert cycles(import_graph(modules)) == []


def test_a_circle_through_an_import_inside_a_function_is_found():
    """The guard above is worth something only if it sees the circle a lazy import hides."""
    modules = {
        "pkg.models": ("from .roles import Role\n", "pkg"),
        "pkg.roles": ("class Role:\n    pass\n\ndef role_of(user):\n    from .models import UserRole\n", "pkg"),
        "pkg.views": ("from pkg import models, roles\n", "pkg"),
    }
    assert cycles(import_graph(modules)) == [["pkg.models", "pkg.roles"]]


# A dotted path in a string (a task queued by name, a setting's default) is an import as well.
DOTTED_PATH = re.compile(r"(integrations|onedrive)(\.\w+)+")


def test_the_portal_core_needs_neither_integration():
    """The integrations plug into the core (services, registries, signals), never the other way round;
    only the stand-alone project, which wires everything together, may name them."""
    offending = []
    for path in files_under("mediaspace", outside=["mediaspace/project"]):
        source = path.read_text()
        names = imported_names(source, package_of(path)) | {
            node.value for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and DOTTED_PATH.fullmatch(node.value)
        }
        offending += [(str(path.relative_to(REPO)), name) for name in sorted(names)
                      if name.split(".")[0] in ("integrations", "onedrive")]
    assert offending == []


def test_only_the_microsoft_kit_talks_to_microsoft():
    """One small Microsoft client serves both integrations: msal and requests are the kit's business."""
    offending = []
    for package in PRODUCT:
        for path in files_under(package, outside=["integrations/microsoft"]):
            names = imported_names(path.read_text(), package_of(path))
            offending += [(str(path.relative_to(REPO)), name) for name in sorted(names)
                          if name.split(".")[0] in ("msal", "requests")]
    assert offending == []


def test_onedrive_needs_nothing_of_the_teams_app():
    """What both integrations use is in the Microsoft kit (or the core), so either can be installed alone."""
    offending = []
    for path in files_under("onedrive"):
        offending += [(str(path.relative_to(REPO)), name)
                      for name in sorted(imported_names(path.read_text(), package_of(path)))
                      if name.split(".")[:2] == ["integrations", "teams"]]
    assert offending == []


# Folders of one machine; the suite finds what it reads relative to the clone (tests.SEEDS for the seeds).
MACHINE_PATH = re.compile(r"/(work|root|home|tmp|Users)(/[\w.-]+)+/?")  # a plain path, not a Graph pattern


def test_no_test_reads_a_path_of_this_machine():
    offending = []
    for path in sorted((REPO / "tests").rglob("*.py")):
        offending += [(str(path.relative_to(REPO)), node.value) for node in ast.walk(ast.parse(path.read_text()))
                      if isinstance(node, ast.Constant) and isinstance(node.value, str)
                      and MACHINE_PATH.fullmatch(node.value)]
    assert offending == []


def test_the_error_family_is_imported_from_errors_only():
    """What the products catch lives in integrations/microsoft/errors.py alone: graph.py re-exports none of it,
    so there is one way to name an error."""
    from integrations.microsoft import errors

    family = {name for name, value in vars(errors).items() if isinstance(value, type) and issubclass(value, Exception)}
    offending = []
    for package in (*PRODUCT, "tests"):
        for path in files_under(package):
            offending += [(str(path.relative_to(REPO)), name) for name in sorted(
                imported_names(path.read_text(), package_of(path)))
                if name.rpartition(".")[::2] in {("integrations.microsoft.graph", error) for error in family}]
    assert offending == []


def test_every_module_the_architecture_page_names_exists():
    """docs/architecture.md is where a newcomer looks a rule up: a module moved or renamed must move there too.
    A bare name (`errors.py`) stands beside the folder of the path before it in the same line, or, with none
    before it, is a module of one of the packages."""
    missing = []
    for line in (REPO / "docs" / "architecture.md").read_text().splitlines():
        folder = ""
        for name in re.findall(r"`(\w[\w/]*(?:\.py|/))`", line):  # not a URL (`/onedrive/`)
            if "/" in name.rstrip("/"):
                path, folder = name, name.rstrip("/").rpartition("/")[0] + "/"
            elif folder:
                path = folder + name
            else:
                path = next((str(found.relative_to(REPO)) for package in PRODUCT
                             for found in (REPO / package).rglob(name)), name)
            if not (REPO / path).exists():
                missing.append(path)
    assert missing == []


def test_the_microsoft_kit_needs_neither_product_and_of_the_core_only_settings_and_keys():
    """The kit serves both integrations: it cannot lean on one of them, nor on the core's models or services."""
    offending = []
    for path in files_under("integrations/microsoft"):
        offending += [(str(path.relative_to(REPO)), name)
                      for name in sorted(imported_names(path.read_text(), package_of(path)))
                      if name.split(".")[0] == "onedrive" or name.split(".")[:2] == ["integrations", "teams"]
                      or name.split(".")[0] == "mediaspace" and name not in (
                          "mediaspace", "mediaspace.conf", "mediaspace.conf.setting", "mediaspace.encryption")]
    assert offending == []
