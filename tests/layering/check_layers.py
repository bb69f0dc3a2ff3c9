#!/usr/bin/env python3
"""Checks RIDE's layering against tests/layering/layers.txt: every include of every
layer's sources, the ride libraries each CMake target links, that no dependency forms
a cycle, and that the programs given to --check-ldd load no OpenCV, BLAS, FFTW or CUDA.

A quoted include is looked up as the build does (the including file's folder, then the
include roots) and, for a bare name, in every layer's folder too, so that a daemon
reaching for another daemon's header is caught even though the compiler would not find
it. Prints one line per violation and exits 1 if there is any.
"""

import argparse
import os
import re
import subprocess
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^">]+)[">]')
SOURCE_SUFFIXES = ('.c', '.h', '.cpp', '.hpp', '.cc', '.cu', '.cuh')
# The include directories the libraries export: "base/log.h", "kernels/gpu.h", "ride/task.h".
INCLUDE_ROOTS = ('src/common', '.', 'include')
ANY = '*'
NONE = '-'
# What a lean program must not load, matched at the start of a word in shared library
# names (ldd) and in what CMake links (opencv_core, PkgConfig::OPENBLAS, CUDA::cudart),
# so that libicudata is not CUDA.
FORBIDDEN_LIBRARIES = tuple(
    (family, re.compile(rf'(?<![a-z])(lib)?({names})', re.IGNORECASE)) for family, names in (
        ('OpenCV', 'opencv'),
        ('BLAS', '(open|c)?blas'),
        ('FFTW', 'fftw'),
        ('CUDA', 'cuda|cublas|cufft'),
    ))


class Table:
    """The layers in table order, each with its folder and the layers it may use."""

    def __init__(self, path, name):
        self.path = name
        self.order = []
        self.folder = {}
        self.uses = {}
        self.errors = []
        with open(path, encoding='utf-8') as f:
            self.text = f.read()
        for number, line in enumerate(self.text.splitlines(), 1):
            self._add_row(number, line.split('#', 1)[0].split())
        for layer in self.order:
            for used in self.uses[layer]:
                if used != ANY and used not in self.folder:
                    self.errors.append(
                        f'{self.path}: layer {layer} may use {used}, which is no layer')

    def _add_row(self, number, fields):
        if not fields:
            return
        if len(fields) < 3:
            self.errors.append(f'{self.path}:{number}: expected "layer folder uses..."')
            return
        layer, folder, uses = fields[0], fields[1].rstrip('/'), fields[2:]
        if layer in self.folder:
            self.errors.append(f'{self.path}:{number}: layer {layer} has a row already')
            return
        self.order.append(layer)
        self.folder[layer] = folder
        self.uses[layer] = [] if uses == [NONE] else uses

    def layer_of(self, relpath):
        """The layer whose folder holds relpath (the innermost one), or None."""
        best = None
        for layer in self.order:
            folder = self.folder[layer]
            if relpath.startswith(folder + '/') and (
                    best is None or len(folder) > len(self.folder[best])):
                best = layer
        return best

    def allows(self, layer, used):
        return used == layer or ANY in self.uses[layer] or used in self.uses[layer]

    def allowed_text(self, layer):
        return ', '.join(self.uses[layer]) or 'none'


def layer_sources(root, table, layer):
    """The source files of one layer, nested layers' folders left out, in a stable order."""
    top = os.path.join(root, table.folder[layer])
    for folder, subfolders, files in os.walk(top):
        subfolders.sort()
        for name in sorted(files):
            path = os.path.join(folder, name)
            relpath = os.path.relpath(path, root)
            if name.endswith(SOURCE_SUFFIXES) and table.layer_of(relpath) == layer:
                yield relpath


def resolve_include(root, table, including, name, quoted):
    """The file an include names, relative to root, or None when no candidate exists."""
    candidates = [os.path.join(os.path.dirname(including), name)] if quoted else []
    candidates += [os.path.join(r, name) for r in INCLUDE_ROOTS]
    if quoted and '/' not in name:
        candidates += [os.path.join(table.folder[layer], name) for layer in table.order]
    for candidate in candidates:
        if os.path.isfile(os.path.join(root, candidate)):
            return os.path.normpath(candidate)
    return None


def includes(root, relpath):
    """Each include of a file: its line number, the name it includes, whether quoted."""
    with open(os.path.join(root, relpath), encoding='utf-8', errors='replace') as f:
        for number, line in enumerate(f, 1):
            match = INCLUDE.match(line)
            if match:
                yield number, match.group(2), match.group(1) == '"'


def check_include(root, table, layer, relpath, name, quoted, edges):
    """What is wrong with one include of a layer's file, or None; records the dependency."""
    target = resolve_include(root, table, relpath, name, quoted)
    if target is None:
        return f'layer {layer} includes "{name}", which no folder holds' if quoted else None
    used = table.layer_of(target)
    if used is None or used == layer:
        return None
    edges.add((layer, used))
    if table.allows(layer, used):
        return None
    spelled = f'"{name}"' if quoted else f'<{name}>'
    return f'layer {layer} includes {used} (allowed: {table.allowed_text(layer)}) through {spelled}'


def check_includes(root, table, edges):
    """Reports every include of a layer that its table row does not allow."""
    violations = []
    for layer in table.order:
        if ANY in table.uses[layer]:
            continue
        for relpath in layer_sources(root, table, layer):
            for number, name, quoted in includes(root, relpath):
                problem = check_include(root, table, layer, relpath, name, quoted, edges)
                if problem:
                    violations.append(f'{relpath}:{number}: {problem}')
    return violations


def read_targets(path, root, table):
    """CMake's targets (name, folder, layers, link items), as tests/CMakeLists.txt wrote them."""
    targets = []
    with open(path, encoding='utf-8') as f:
        for line in f:
            if not line.strip():
                continue
            name, folder, sources, links = line.rstrip('\n').split('\t')
            folder = os.path.join(root, folder)
            layers = {table.layer_of(os.path.relpath(os.path.join(folder, s), root))
                      for s in sources.split(';') if s}
            layers.discard(None)
            items = [i for i in links.split(';') if i and not i.startswith('::@')]
            targets.append((name, os.path.relpath(folder, root), sorted(layers), items))
    return targets


def check_links(targets, table, edges):
    """Reports every target built from several layers and every link a table row forbids."""
    violations = []
    layer_of_target = {name: layers[0] for name, _, layers, _ in targets if len(layers) == 1}
    for name, folder, layers, items in targets:
        where = os.path.join(folder, 'CMakeLists.txt')
        if len(layers) > 1:
            violations.append(
                f'{where}: target {name} builds sources of layers {", ".join(layers)}')
            continue
        if not layers or ANY in table.uses[layers[0]]:
            continue
        layer = layers[0]
        for item in items:
            used = layer_of_target.get(item)
            if used is None or used == layer:
                continue
            edges.add((layer, used))
            if not table.allows(layer, used):
                violations.append(
                    f'{where}: layer {layer} links {used} (allowed: {table.allowed_text(layer)}) '
                    f'through {name} -> {item}')
    return violations


def forbidden_family(library):
    """The family of libraries a lean program must not load that library belongs to, or None."""
    return next((family for family, pattern in FORBIDDEN_LIBRARIES if pattern.search(library)),
                None)


def check_closure(targets, program):
    """Reports every OpenCV, BLAS, FFTW or CUDA library in a target's link closure: the
    linker drops unused libraries (--as-needed), so ldd alone would let a dependency
    through until its first call."""
    by_name = {target[0]: target for target in targets}
    if program not in by_name:
        return [f'layering: no target {program} in the targets file']
    parents, queue, violations = {program: None}, [program], []
    while queue:
        current = queue.pop(0)
        for item in by_name[current][3]:
            if item in parents:
                continue
            parents[item] = current
            if item in by_name:
                queue.append(item)
                continue
            family = forbidden_family(item)
            if family:
                chain = [item]
                while parents[chain[0]]:
                    chain.insert(0, parents[chain[0]])
                where = os.path.join(by_name[program][1], 'CMakeLists.txt')
                violations.append(f'{where}: {program} links {family} through {" -> ".join(chain)}')
    return violations


def shortest_path(graph, start, goal):
    """The shortest list of layers from start to goal along graph's edges, or None."""
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for layer in frontier:
            for used in graph.get(layer, ()):
                if used not in paths:
                    paths[used] = paths[layer] + [used]
                    following.append(used)
        if goal in paths:
            return paths[goal]
        frontier = following
    return None


def cycles_through(graph, edges):
    """For each edge that closes a cycle in graph, the shortest such cycle, each cycle once."""
    cycles, seen = [], set()
    for layer, used in edges:
        back = shortest_path(graph, used, layer)
        if back is None:
            continue
        cycle = [layer] + back
        key = frozenset(zip(cycle, cycle[1:]))
        if key not in seen:
            seen.add(key)
            cycles.append(cycle)
    return cycles


def check_cycles(table, observed):
    """Reports cycles in the table itself, then those the observed dependencies close."""
    graph = {layer: {u for u in table.uses[layer] if u != ANY} for layer in table.order}
    listed = [(layer, used) for layer in table.order for used in sorted(graph[layer])]
    violations = [f'{table.path}: the table has a cycle {" -> ".join(c)}'
                  for c in cycles_through(graph, listed)]
    unlisted = sorted(e for e in observed if e[1] not in graph[e[0]])
    for layer, used in unlisted:
        graph[layer].add(used)
    for cycle in cycles_through(graph, unlisted):
        outside = [f'{a} -> {b}' for a, b in zip(cycle, cycle[1:]) if b not in table.uses[a]]
        violations.append(f'{table.path}: dependency cycle {" -> ".join(cycle)} '
                          f'(not in the table: {", ".join(outside)})')
    return violations


def shown(path, root):
    """A path as messages print it: relative to the checked tree when inside it."""
    relpath = os.path.relpath(os.path.abspath(path), root)
    return path if relpath.startswith('..') else relpath


def check_ldd(program, root):
    """Reports every OpenCV, BLAS, FFTW or CUDA library the dynamic loader gives program."""
    run = subprocess.run(['ldd', program], capture_output=True, text=True, check=False)
    if run.returncode != 0:
        return [f'{shown(program, root)}: ldd failed: {run.stderr.strip() or run.stdout.strip()}']
    violations = []
    for line in run.stdout.splitlines():
        soname = os.path.basename(line.split()[0]) if line.split() else ''
        family = forbidden_family(soname)
        if family:
            violations.append(f'{shown(program, root)}: {os.path.basename(program)} '
                              f'links {family} through {soname}')
    return violations


def check_doc(doc, table, root):
    """The page that explains the layers must quote the table as the test reads it."""
    with open(doc, encoding='utf-8') as f:
        if table.text in f.read():
            return []
    return [f'{shown(doc, root)}: does not quote {table.path} as it is']


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', 1)[0])
    parser.add_argument('--source-dir', required=True, help='the tree to check')
    parser.add_argument('--table', help='default: SOURCE_DIR/tests/layering/layers.txt')
    parser.add_argument('--targets', help='the targets file tests/CMakeLists.txt generates')
    parser.add_argument('--doc', help='a page that must quote the table')
    parser.add_argument('--check-closure', action='append', default=[], metavar='TARGET',
                        help='a target whose link closure holds no OpenCV, BLAS, FFTW or CUDA')
    parser.add_argument('--check-ldd', action='append', default=[], metavar='PROGRAM',
                        help='a program that must load no OpenCV, BLAS, FFTW or CUDA')
    args = parser.parse_args()
    root = os.path.abspath(args.source_dir)
    table_path = args.table or os.path.join(root, 'tests/layering/layers.txt')
    table = Table(table_path, shown(table_path, root))
    if table.errors:
        print('\n'.join(table.errors))
        return 1
    edges = set()
    violations = check_includes(root, table, edges)
    targets = read_targets(args.targets, root, table) if args.targets else []
    violations += check_links(targets, table, edges)
    for program in args.check_closure:
        violations += check_closure(targets, program)
    violations += check_cycles(table, edges)
    for program in args.check_ldd:
        violations += check_ldd(program, root)
    if args.doc:
        violations += check_doc(args.doc, table, root)
    for violation in violations:
        print(violation)
    if violations:
        print(f'layering: {len(violations)} violation(s) of {table.path}')
        return 1
    print(f'layering: {len(table.order)} layers, {len(edges)} dependencies between them, '
          'all allowed')
    return 0


if __name__ == '__main__':
    sys.exit(main())
