"""Wraps Debian's system libraries as Bazel targets.

Link flags come from pkg-config on the build machine, so the same BUILD
files work wherever scripts/setup.sh has installed the packages.

WORKSPACE calls system_libraries(name = "system"), which declares:

  @system          the shared libraries, one cc_library per entry of _LIBS
                   (what every normal target links against);
  @system_static   the same libraries as static archives, for the portable
                   release binary (//release; docs: release/README.md);
  @shardex_version the version of common/version.h as a Starlark constant,
                   for the release artifacts' file names.

Only //release loads the last two, so a machine without the static
archives still builds and tests everything else.
"""

# name -> (pkg-config modules, extra linkopts)
_LIBS = {
    "grpc": (["grpc++"], ["-lgrpc++_reflection"]),
    "protobuf": (["protobuf"], []),
    "absl": ([
        "absl_status",
        "absl_statusor",
        "absl_strings",
        "absl_str_format",
        "absl_synchronization",
        "absl_time",
        "absl_hash",
        "absl_random_random",
        "absl_flat_hash_map",
        "absl_flat_hash_set",
    ], []),
    "glog": (["libglog"], []),
    "primesieve": (["primesieve"], []),
    "png": (["libpng"], []),
    "re2": (["re2"], []),
    "crypto": (["libcrypto"], []),
    # TLS for the HTTP server (Boost.Beast over OpenSSL; coordinator/BUILD).
    "ssl": (["libssl", "libcrypto"], []),
    "sqlite3": (["sqlite3"], []),
    # The allocator of the shardex binary (cli/BUILD: malloc), not a
    # library the code calls: gperftools' tcmalloc_minimal. With glibc's
    # malloc, per-message allocations of gRPC and protobuf were the largest
    # cost of trivial shards (bench/README.md, throughput).
    "tcmalloc": (["libtcmalloc_minimal"], []),
    "gtest": (["gtest", "gmock"], []),
    "gtest_main": (["gtest_main"], []),
}

# The libraries the release binary needs (GoogleTest is for tests only).
# glog's .pc does not declare libunwind's own static dependencies (lzma),
# so libunwind is asked for directly.
_STATIC_SKIP = ["gtest", "gtest_main"]
_STATIC_EXTRA_MODULES = ["libunwind"]

# glibc's libraries stay dynamic: the release links everything but glibc
# statically (a static glibc cannot load NSS modules, and glibc is on every
# Linux host). Since glibc 2.34 libpthread, libdl and librt are empty stubs.
_GLIBC = ["c", "m", "pthread", "dl", "rt", "util", "resolv"]

def _pkg_config(ctx, args, what):
    result = ctx.execute(["pkg-config"] + args)
    if result.return_code != 0:
        fail("pkg-config failed for %s: %s\nRun scripts/setup.sh first." %
             (what, result.stderr))
    return [f for f in result.stdout.strip().split(" ") if f]

def _system_libraries_impl(ctx):
    build = ['package(default_visibility = ["//visibility:public"])', ""]
    for name, (modules, extra) in _LIBS.items():
        flags = _pkg_config(ctx, ["--libs"] + modules, name) + extra
        seen = []
        for f in flags:
            if f not in seen:
                seen.append(f)
        build.append("cc_library(")
        build.append('    name = "%s",' % name)
        build.append("    linkopts = %s," % repr(seen + ["-lpthread"]))
        build.append(")")
        build.append("")
    ctx.file("WORKSPACE", 'workspace(name = "%s")\n' % ctx.name)
    ctx.file("BUILD", "\n".join(build))

_system_libraries = repository_rule(
    implementation = _system_libraries_impl,
    local = True,
)

def _find_archive(ctx, lib, search_dirs):
    """Path of lib<lib>.a in search_dirs or gcc's own directory, or None."""
    name = "lib%s.a" % lib
    for d in search_dirs:
        p = ctx.path("%s/%s" % (d, name))
        if p.exists:
            return p
    result = ctx.execute(["gcc", "-print-file-name=" + name])
    found = result.stdout.strip()
    if result.return_code == 0 and found != name and ctx.path(found).exists:
        return ctx.path(found)
    return None

def _system_static_impl(ctx):
    modules = []
    for name, (mods, _) in _LIBS.items():
        if name not in _STATIC_SKIP:
            modules += mods
    modules += _STATIC_EXTRA_MODULES
    flags = _pkg_config(ctx, ["--static", "--libs"] + modules, "the static link")

    # pkg-config lists each library before the ones it needs, repeating
    # shared dependencies; keeping each library's last occurrence keeps that
    # order for the static link.
    libs = []
    for f in flags:
        if f.startswith("-l"):
            if f[2:] in libs:
                libs.remove(f[2:])
            libs.append(f[2:])
    search_dirs = [f[2:] for f in flags if f.startswith("-L")]
    search_dirs += ["/usr/lib/x86_64-linux-gnu", "/usr/lib", "/usr/local/lib"]

    # libstdc++ and libatomic come from gcc; the toolchain itself appends
    # -lstdc++ after all user flags.
    for lib in ["grpc++_reflection", "stdc++", "atomic"]:
        if lib not in libs:
            libs.append(lib)

    missing = []
    archives = []
    link = []
    for lib in libs:
        if lib in _GLIBC:
            link.append("-l" + lib)
            continue
        path = _find_archive(ctx, lib, search_dirs)
        if path == None:
            missing.append("lib%s.a" % lib)
            continue
        ctx.symlink(path, "static/lib%s.a" % lib)
        archives.append("static/lib%s.a" % lib)
        # gRPC's reflection registers itself from a static initializer,
        # which usually needs a whole-archive link; here it is not: the
        # coordinator calls InitProtoReflectionServerBuilderPlugin(), which
        # pulls in that object (and whole-archive would define it twice).
        link.append("-l:lib%s.a" % lib)
    if missing:
        fail(("The static release link needs %s, which no installed package " +
              "provides. Install the matching -dev packages (scripts/setup.sh " +
              "installs them all).") % ", ".join(missing))

    # The directory of archives comes first on the library search path:
    # for each directory the linker tries libfoo.so, then libfoo.a, so the
    # shared-library flags the dependencies carry (-lgrpc++ from @system,
    # -lstdc++ from the toolchain) resolve to these archives too, while
    # glibc's libraries, absent here, stay shared.
    #
    # -no-pie: Debian's libunwind.a (glog's stack traces) is not
    # position-independent. The executable loads at a fixed address; glibc,
    # the stack and the heap are still randomized.
    linkopts = (["-Lexternal/%s/static" % ctx.name, "-Wl,--start-group"] + link +
                ["-Wl,--end-group", "-static-libstdc++", "-static-libgcc", "-no-pie"])
    build = [
        'package(default_visibility = ["//visibility:public"])',
        "",
        "# Generated by tools/system_library.bzl from `pkg-config --static --libs`.",
        "# Use both: the cc_binary depends on :link and lists :archives in",
        "# additional_linker_inputs (the link action must see the files).",
        "cc_library(",
        '    name = "link",',
        "    linkopts = %s," % repr(linkopts),
        ")",
        "",
        "filegroup(",
        '    name = "archives",',
        "    srcs = %s," % repr(archives),
        ")",
        "",
    ]
    ctx.file("WORKSPACE", 'workspace(name = "%s")\n' % ctx.name)
    ctx.file("BUILD", "\n".join(build))

_system_static = repository_rule(
    implementation = _system_static_impl,
    local = True,
)

def _version_impl(ctx):
    # Reading through a label makes Bazel re-run this rule when the file
    # changes.
    header = ctx.read(ctx.attr.header)
    version = None
    for line in header.splitlines():
        if "kVersion[] = \"" in line:
            version = line.split("\"")[1]
    if not version:
        fail("no `kVersion[] = \"...\"` line in %s" % ctx.attr.header)
    ctx.file("WORKSPACE", 'workspace(name = "%s")\n' % ctx.name)
    ctx.file("BUILD", "")
    ctx.file("version.bzl", "# From %s.\nVERSION = %s\n" % (ctx.attr.header, repr(version)))

_version = repository_rule(
    implementation = _version_impl,
    attrs = {"header": attr.label(allow_single_file = True)},
)

def system_libraries(name):
    """Declares @<name>, @<name>_static and @shardex_version (see above)."""
    _system_libraries(name = name)
    _system_static(name = name + "_static")
    _version(name = "shardex_version", header = "@//common:version.h")
