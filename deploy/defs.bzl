"""The filegroup each deploy/<way> package ships in the release."""

def deploy_files(exclude = []):
    """`files`: everything in the package but BUILD, test sources and
    `exclude` (what scripts/setup.sh installs into the tree)."""
    native.filegroup(
        name = "files",
        srcs = native.glob(
            ["**"],
            exclude = ["BUILD", "*.cc", "*.h"] + exclude,
        ),
    )
