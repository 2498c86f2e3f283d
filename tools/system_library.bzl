"""Wraps Debian's system libraries as Bazel targets in @system.

Link flags come from pkg-config on the build machine, so the same BUILD
files work wherever scripts/setup.sh has installed the packages.
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
    "sqlite3": (["sqlite3"], []),
    "gtest": (["gtest", "gmock"], []),
    "gtest_main": (["gtest_main"], []),
}

def _system_libraries_impl(ctx):
    build = ['package(default_visibility = ["//visibility:public"])', ""]
    for name, (modules, extra) in _LIBS.items():
        result = ctx.execute(["pkg-config", "--libs"] + modules)
        if result.return_code != 0:
            fail("pkg-config failed for %s: %s\nRun scripts/setup.sh first." %
                 (name, result.stderr))
        flags = result.stdout.strip().split(" ") + extra
        seen = []
        for f in flags:
            if f and f not in seen:
                seen.append(f)
        build.append("cc_library(")
        build.append('    name = "%s",' % name)
        build.append("    linkopts = %s," % repr(seen + ["-lpthread"]))
        build.append(")")
        build.append("")
    ctx.file("WORKSPACE", 'workspace(name = "%s")\n' % ctx.name)
    ctx.file("BUILD", "\n".join(build))

system_libraries = repository_rule(
    implementation = _system_libraries_impl,
    local = True,
)
