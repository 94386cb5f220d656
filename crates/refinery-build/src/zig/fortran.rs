//! The Fortran driver of the glibc-targeted toolchain: compiling goes to the gfortran
//! cross (`gfortran-s390x-linux-gnu`, bound by [`crate::accelerate`]), linking to Zig,
//! with the libgfortran pack (see [`crate::packs`]) linked in statically.
//!
//! Why: gfortran links with the cross toolchain's own glibc 2.36 and Debian's
//! `libgfortran.so.5`, which needs `GLIBC_2.34`, so a wheel with Fortran code could not
//! reach `manylinux2014`. gfortran's object files are plain s390x ELF objects that Zig's
//! linker takes; only the Fortran run-time library must then come from a build for the
//! target's glibc (the pack, found through `LIBRARY_PATH`).

use super::{DROPPED_FLAGS, GUEST_ZIG_BIN, GUEST_ZIG_DIR, KEPT_CPU_LEVELS};

/// Fortran source suffixes gfortran compiles (a link command that names one compiles it
/// first, as meson's sanity check and configure's tests do).
const FORTRAN_SOURCES: &str =
    "*.f|*.F|*.for|*.FOR|*.ftn|*.FTN|*.f77|*.F77|*.f90|*.F90|*.f95|*.F95|*.f03|*.F03|*.f08|*.F08";

/// Flags that only mean something to the Fortran compiler, dropped from the link (clang
/// refuses `-std=legacy` and most `-f` options of gfortran). The `-f` options the link
/// needs are kept: see the `case` in [`wrapper_script`].
const FORTRAN_ONLY_FLAGS: &str =
    "-f*|-cpp|-nocpp|-J*|-std=*|-I*|-D*|-U*|-static-libgfortran|-static-libgcc|-lquadmath";

/// The POSIX shell script installed as `gfortran`, `f95` and `s390x-linux-gnu-gfortran`
/// first on `PATH` of glibc-targeted builds.
///
/// - Compiling (`-c`, `-E`, `-S`, `-M…`) and queries (`--version`, `-dump…`) run the real
///   gfortran: the first `s390x-linux-gnu-gfortran` or `gfortran` on `PATH` after this
///   wrapper's folder. None: exit 127 with what to install.
/// - `-print-search-dirs` (and meson's `--print-search-dirs`) answers the pack folders
///   (`LIBRARY_PATH`) as `libraries:`: meson turns that line into `-L` flags on Fortran
///   links, and the cross toolchain's folders hold Debian's `libgfortran.so` and a
///   `libgfortran.a` built without PIC (its local-exec TLS cannot go into a `.so`).
/// - Linking: Fortran sources named on the line are compiled first, then
///   `zig cc -target s390x-linux-gnu.<glibc>` links everything with `-L` for each
///   `LIBRARY_PATH` folder first (before any `-L` of the line, so `-lgfortran` is the
///   pack's) and `-lgfortran -lm`. No `libgfortran.a` in those folders:
///   exit 1 saying the pack is missing (the `libgfortran` hint matches that line).
pub(super) fn wrapper_script(glibc: (u16, u16)) -> String {
    let dropped = DROPPED_FLAGS.join("|");
    let kept = KEPT_CPU_LEVELS.join("|");
    format!(
        r#"#!/bin/sh
# refinery: gfortran for s390x-linux-gnu with glibc {major}.{minor}: compiles with the gfortran cross, links with Zig and the libgfortran pack.
real=
save_ifs=$IFS
IFS=:
for dir in $PATH; do
  [ "$dir" = "{GUEST_ZIG_BIN}" ] && continue
  for name in s390x-linux-gnu-gfortran gfortran; do
    if [ -x "$dir/$name" ]; then real="$dir/$name"; break 2; fi
  done
done
IFS=$save_ifs
if [ -z "$real" ]; then
  echo "refinery: no gfortran cross compiler in the sandbox; on the host: apt-get install gfortran-s390x-linux-gnu" >&2
  exit 127
fi
link=1
for arg do
  case "$arg" in
    -print-search-dirs|--print-search-dirs)
      "$real" -print-search-dirs | sed "s|^libraries: .*|libraries: =$LIBRARY_PATH|"
      exit $? ;;
    -c|-E|-S|-M|-MM|-v|--version|-dump*|-print-*|--print-*|-###|--help) link= ;;
  esac
done
if [ -z "$link" ] || [ $# -eq 0 ]; then
  exec "$real" "$@"
fi
quote() {{ printf "'%s' " "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }}
compile=
for arg do
  case "$arg" in
    -O*|-g*|-f*|-I*|-D*|-U*|-J*|-cpp|-nocpp|-std=*|-m*) compile="$compile$(quote "$arg")" ;;
  esac
done
work=
skip=
n=0
for arg do
  shift
  if [ -n "$skip" ]; then skip=; continue; fi
  case "$arg" in
    --param) skip=1; continue ;;
    {FORTRAN_SOURCES})
      if [ -z "$work" ]; then work=$(mktemp -d) || exit 1; trap 'rm -rf "$work"' EXIT; fi
      n=$((n + 1))
      eval "\"\$real\" $compile -c \"\$arg\" -o \"\$work/$n.o\"" || exit 1
      set -- "$@" "$work/$n.o"
      continue ;;
    -fPIC|-fpic|-fPIE|-fpie|-fno-PIE|-fno-pie|-fuse-ld=*|-fvisibility=*|{kept}) ;;
    {dropped}|{FORTRAN_ONLY_FLAGS}) continue ;;
  esac
  set -- "$@" "$arg"
done
found=
packs=
IFS=:
for dir in $LIBRARY_PATH; do
  [ -n "$dir" ] || continue
  packs="$packs$(quote "-L$dir")"
  [ -f "$dir/libgfortran.a" ] && found=1
done
IFS=$save_ifs
if [ -z "$found" ]; then
  echo "refinery: no libgfortran for glibc {major}.{minor} on LIBRARY_PATH: linking Fortran code needs the libgfortran pack" >&2
  exit 1
fi
eval "\"{GUEST_ZIG_DIR}/zig\" cc -target s390x-linux-gnu.{major}.{minor} $packs \"\$@\" -lgfortran -lm"
"#,
        major = glibc.0,
        minor = glibc.1,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zig::write_executable;
    use std::path::Path;
    use std::process::Command;

    /// The wrapper with the host's sh: a fake gfortran (prints `real` and its arguments,
    /// writes the `-o` file) on `PATH` after the wrapper's folder, a fake zig that prints
    /// its arguments, and `lib` on `LIBRARY_PATH`.
    struct Fixture {
        dir: tempfile::TempDir,
    }

    impl Fixture {
        fn new(with_pack: bool) -> Fixture {
            let dir = tempfile::tempdir().unwrap();
            let root = dir.path();
            for sub in ["zig", "wrappers", "cross", "lib", "tools"] {
                std::fs::create_dir_all(root.join(sub)).unwrap();
            }
            // The programs the script calls, without the host's own gfortran cross.
            for tool in ["sed", "mktemp", "rm"] {
                let host = ["/usr/bin", "/bin"]
                    .iter()
                    .map(|d| Path::new(d).join(tool))
                    .find(|p| p.exists())
                    .unwrap();
                std::os::unix::fs::symlink(host, root.join("tools").join(tool)).unwrap();
            }
            if with_pack {
                std::fs::write(root.join("lib/libgfortran.a"), "!<arch>\n").unwrap();
            }
            // GUEST_ZIG_BIN first: GUEST_ZIG_DIR is a prefix of it (replaced first, the
            // wrapper would not skip its own folder and would exec itself for ever).
            let script = wrapper_script((2, 17))
                .replace(GUEST_ZIG_BIN, root.join("wrappers").to_str().unwrap())
                .replace(GUEST_ZIG_DIR, root.join("zig").to_str().unwrap());
            write_executable(&root.join("wrappers/gfortran"), &script).unwrap();
            write_executable(&root.join("zig/zig"), "#!/bin/sh\necho zig \"$@\"\n").unwrap();
            write_executable(
                &root.join("cross/s390x-linux-gnu-gfortran"),
                "#!/bin/sh\nif [ \"$1\" = -print-search-dirs ]; then printf 'install: /x/\\nprograms: =/x/bin\\nlibraries: =/usr/lib/gcc-cross/s390x-linux-gnu/12/\\n'; exit 0; fi\necho real \"$@\"\nwhile [ $# -gt 0 ]; do [ \"$1\" = -o ] && : > \"$2\"; shift; done\n",
            )
            .unwrap();
            Fixture { dir }
        }

        fn run(&self, args: &[&str]) -> (bool, String, String) {
            let root = self.dir.path();
            let out = Command::new(root.join("wrappers/gfortran"))
                .args(args)
                .current_dir(root)
                .env(
                    "PATH",
                    format!(
                        "{}:{}:{}",
                        root.join("wrappers").display(),
                        root.join("cross").display(),
                        root.join("tools").display()
                    ),
                )
                .env("LIBRARY_PATH", root.join("lib"))
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout).replace(root.to_str().unwrap(), "ROOT");
            (
                out.status.success(),
                text.trim().to_string(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        }
    }

    #[test]
    fn compiling_goes_to_the_gfortran_cross_unchanged() {
        let f = Fixture::new(true);
        let (ok, out, _) = f.run(&["-O2", "-fPIC", "-ffixed-form", "-c", "a.f", "-o", "a.o"]);
        assert!(ok);
        assert_eq!(out, "real -O2 -fPIC -ffixed-form -c a.f -o a.o");
        assert_eq!(f.run(&["--version"]).1, "real --version");
    }

    #[test]
    fn linking_goes_to_zig_with_the_pack_and_without_fortran_only_flags() {
        let f = Fixture::new(true);
        let (ok, out, err) = f.run(&[
            "-shared",
            "-fPIC",
            "-std=legacy",
            "-ffree-form",
            "-Jmod",
            "-L/opt/refinery-cross/lib/gcc-cross/s390x-linux-gnu/12",
            "a.o",
            "-o",
            "m.so",
            "-Wl,-O1",
            "-lquadmath",
            "--param",
            "ssp-buffer-size=4",
        ]);
        assert!(ok, "{err}");
        assert_eq!(
            out,
            // The pack's folder comes before the cross toolchain's (meson's `-L` from
            // gfortran's search dirs), whose libgfortran.a is not position-independent.
            "zig cc -target s390x-linux-gnu.2.17 -LROOT/lib -shared -fPIC \
             -L/opt/refinery-cross/lib/gcc-cross/s390x-linux-gnu/12 a.o -o m.so -Wl,-O1 -lgfortran -lm"
        );
    }

    #[test]
    fn a_fortran_source_on_a_link_line_is_compiled_first() {
        let f = Fixture::new(true);
        let (ok, out, err) = f.run(&["-O2", "-cpp", "check.f90", "-o", "check"]);
        assert!(ok, "{err}");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        assert!(
            lines[0].starts_with("real '-O2' '-cpp' -c check.f90 -o ")
                || lines[0].starts_with("real -O2 -cpp -c check.f90 -o "),
            "{out}"
        );
        assert!(lines[0].ends_with("/1.o"), "{out}");
        let object = lines[0].rsplit(' ').next().unwrap();
        assert_eq!(
            lines[1],
            format!("zig cc -target s390x-linux-gnu.2.17 -LROOT/lib -O2 {object} -o check -lgfortran -lm")
        );
    }

    #[test]
    fn without_the_pack_the_link_names_it_and_fails() {
        let f = Fixture::new(false);
        let (ok, out, err) = f.run(&["-shared", "a.o", "-o", "m.so"]);
        assert!(!ok);
        assert!(out.is_empty(), "{out}");
        assert!(
            err.contains("refinery: no libgfortran for glibc 2.17")
                && err.contains("libgfortran pack"),
            "{err}"
        );
    }

    #[test]
    fn the_search_dirs_name_the_packs_not_the_cross_libraries() {
        let f = Fixture::new(true);
        // gcc's spelling and meson's (`--print-search-dirs`).
        for flag in ["-print-search-dirs", "--print-search-dirs"] {
            let (ok, out, _) = f.run(&[flag]);
            assert!(ok, "{flag}");
            assert!(out.contains("libraries: =ROOT/lib"), "{flag}: {out}");
            assert!(!out.contains("gcc-cross"), "{flag}: {out}");
            assert!(out.contains("programs: =/x/bin"), "{flag}: {out}");
        }
    }

    #[test]
    fn without_a_gfortran_cross_the_wrapper_says_what_to_install() {
        let f = Fixture::new(true);
        std::fs::remove_file(f.dir.path().join("cross/s390x-linux-gnu-gfortran")).unwrap();
        let (ok, _, err) = f.run(&["-c", "a.f"]);
        assert!(!ok);
        assert!(
            err.contains("apt-get install gfortran-s390x-linux-gnu"),
            "{err}"
        );
    }
}
