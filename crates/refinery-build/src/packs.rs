//! Native library packs: C libraries that extensions link (libffi, zlib, OpenBLAS, …)
//! built from pinned source tarballs (Debian's orig tarballs; a PyPI sdist where Debian's
//! lacks a part) with the glibc-targeted compiler (see [`crate::zig`]) into
//! a prefix, static and position independent. An extension built for `manylinux2014`
//! then links the library in, instead of linking the environment's shared library, whose
//! own glibc symbols are newer than the target allows (auditwheel would graft it and
//! refuse the tag).
//!
//! Packs live in `<envs>/packs/<name>-<version>-glibc<X.Y>-<hash>/`, made once per target
//! glibc and toolchain ([`PackTarget`]), and the whole folder is bound read-only at [`GUEST_PACKS_DIR`] into build steps.
//! A pack is made in the build environment itself: its configure script runs under
//! emulation and the compiler natively, `make install DESTDIR=…` stages it, and the
//! prefix recorded in its `.pc` files is the path builds see.

use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::runner::{Mount, RunSpec, Runner};
use crate::Reporter;

pub mod archive;

/// Where the packs folder appears inside build steps.
pub const GUEST_PACKS_DIR: &str = "/opt/refinery-packs";
/// The CPU level of code Zig compiles for `s390x-linux-gnu` without `-mcpu` (measured:
/// `__ARCH__` 11 and `__VX__` defined), recorded for packs whose recipe chooses none.
const ZIG_BASELINE_CPU: &str = "arch11 (z13, vector facility): Zig's s390x default";
/// Written into a finished pack (its recipe, target and CPU level as JSON); a folder
/// without it is not used.
const MARKER_FILE: &str = "refinery-pack.json";
/// Where a pack's build folder appears (one of the build mount points).
const GUEST_WORK: &str = "/build";
/// Unpacks the tarball named by its argument with Python's `tarfile`: Debian's minimal
/// environments have no `bzip2` or `xz` program, Python has both codecs.
const UNPACK: &str = "'import sys, tarfile; t = tarfile.open(sys.argv[1]); \
    t.extractall(**({\"filter\": \"data\"} if hasattr(tarfile, \"data_filter\") else {}))'";

/// How to make one pack: a pinned source tarball and the shell commands that build it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackRecipe {
    pub name: &'static str,
    pub version: &'static str,
    /// The Debian `.orig` tarball (the upstream release as Debian ships it), or a PyPI
    /// sdist that carries the upstream tree when Debian's leaves out a part.
    pub url: &'static str,
    /// Its sha256, from the Debian `.dsc` (e.g. libxml2_2.9.14+dfsg-1.3~deb12u6.dsc) or
    /// PyPI's JSON API. The orig tarball is upstream's release: Debian's patches are not
    /// applied.
    pub sha256: &'static str,
    /// The folder the tarball unpacks to.
    pub folder: &'static str,
    /// Packs this one links (made first, found like a build finds packs, and each one's
    /// prefix in `$PACK_<NAME>`, e.g. `$PACK_ZLIB`).
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub depends: &'static [&'static str],
    /// Variables the builds that link this pack get, telling their build systems where
    /// it is and that it is static (openssl-sys links `libssl.so` otherwise); `$PREFIX`
    /// in a value is the pack's prefix. Not part of the key: they change the users'
    /// builds, not the pack.
    #[serde(skip)]
    pub link_env: &'static [(&'static str, &'static str)],
    /// Build programs the environment lacks (e.g. CMake), taken from pinned s390x wheels
    /// on PyPI and put on `PATH`; they run emulated like `configure`.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub tools: &'static [PackTool],
    /// The s390x CPU level the library's code is built for, when the recipe chooses one
    /// (recorded in the pack's `refinery-pack.json`); empty: the toolchain's baseline
    /// (Zig's default for s390x is arch11 = z13, with the vector facility).
    #[serde(skip_serializing_if = "str::is_empty")]
    pub cpu: &'static str,
    /// Commands run in that folder with `$PREFIX` (the prefix builds see), `$DESTDIR`
    /// (where to install) and `$JOBS` set; `s390x-linux-gnu-gcc` is the glibc-targeted
    /// compiler.
    pub build: &'static str,
}

/// A build program from a wheel: its URL, sha256 and the folder inside the wheel that
/// holds its executables.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackTool {
    pub url: &'static str,
    pub sha256: &'static str,
    pub bin: &'static str,
}

/// CMake 4.4.5 from PyPI (`cmake`, manylinux2014_s390x).
const CMAKE: PackTool = PackTool {
    url: "https://files.pythonhosted.org/packages/f2/8d/1bbfb7c517d35e5098c6a9056dd490a91d45f35dd18be7be1dced2adfbad/cmake-4.4.5-py3-none-manylinux2014_s390x.manylinux_2_17_s390x.whl",
    sha256: "f5c6e586748e23b1fb23d9a8e5b469ec24e5b30ef08b7fc7b52e5c0de2f7a883",
    bin: "cmake/data/bin",
};

/// The packs this refinery can make.
const RECIPES: &[PackRecipe] = &[
    PackRecipe {
        name: "libffi",
        version: "3.4.4",
        url: "https://deb.debian.org/debian/pool/main/libf/libffi/libffi_3.4.4.orig.tar.gz",
        sha256: "d66c56ad259a82cf2a9dfc408b32bf5da52371500b84745f7fb8b645712df676",
        folder: "libffi-3.4.4",
        depends: &[],
        link_env: &[],
        tools: &[],
        cpu: "",
        // configure's visibility probe greps GCC's assembly output and misses clang's, so
        // the internal symbols would stay global: a static libffi then cannot be linked
        // into an extension (R_390_PC32DBL against ffi_closure_helper_SYSV).
        build: "./configure --host=s390x-linux-gnu --prefix=\"$PREFIX\" --disable-shared --enable-static --with-pic --disable-docs --disable-multi-os-directory libffi_cv_hidden_visibility_attribute=yes\n\
                make -j\"$JOBS\"\n\
                make install DESTDIR=\"$DESTDIR\"",
    },
    PackRecipe {
        name: "zlib",
        version: "1.2.13",
        url: "https://deb.debian.org/debian/pool/main/z/zlib/zlib_1.2.13.dfsg.orig.tar.bz2",
        sha256: "71feb7947e3c00ef125f83b79a4e529bde31171e5babe48b391f06758d1ab0a1",
        folder: "zlib-1.2.13.dfsg",
        depends: &[],
        link_env: &[],
        tools: &[],
        cpu: "",
        // zlib's own configure (not autoconf): CC comes from the environment.
        build: "CFLAGS=\"-O2 -fPIC\" ./configure --prefix=\"$PREFIX\" --static\n\
                make -j\"$JOBS\" libz.a\n\
                make install DESTDIR=\"$DESTDIR\"",
    },
    PackRecipe {
        name: "libxml2",
        version: "2.9.14",
        url: "https://deb.debian.org/debian/pool/main/libx/libxml2/libxml2_2.9.14+dfsg.orig.tar.xz",
        sha256: "4fe913dec8b1ab89d13b489b419a8203176ea39e931eaa0d25b17eafb9c279e9",
        folder: "libxml2-2.9.14",
        depends: &["zlib"],
        link_env: &[],
        tools: &[],
        cpu: "",
        // Only the library, its headers, xml2-config and the .pc file: the programs, tests
        // and documentation are not needed, and every libtool step runs emulated. No loadable
        // modules: nothing of the pack calls dlopen.
        build: "./configure --host=s390x-linux-gnu --prefix=\"$PREFIX\" --disable-shared --enable-static --with-pic --with-zlib=\"$PACK_ZLIB\" --without-lzma --without-icu --without-python --without-http --without-ftp --without-modules\n\
                make -j\"$JOBS\" libxml2.la\n\
                make install-libLTLIBRARIES install-pkgconfigDATA install-binSCRIPTS DESTDIR=\"$DESTDIR\"\n\
                make -C include install DESTDIR=\"$DESTDIR\"",
    },
    PackRecipe {
        name: "libxslt",
        version: "1.1.35",
        url: "https://deb.debian.org/debian/pool/main/libx/libxslt/libxslt_1.1.35.orig.tar.xz",
        sha256: "8247f33e9a872c6ac859aa45018bc4c4d00b97e2feac9eebc10c93ce1f34dd79",
        folder: "libxslt-1.1.35",
        depends: &["libxml2"],
        link_env: &[],
        tools: &[],
        cpu: "",
        // libxslt and libexslt without the xsltproc program; no libgcrypt (EXSLT crypto). The
        // profiler and debugger stay: lxml calls xsltGetProfileInformation.
        build: "./configure --host=s390x-linux-gnu --prefix=\"$PREFIX\" --disable-shared --enable-static --with-pic --with-libxml-prefix=\"$PACK_LIBXML2\" --without-python --without-crypto\n\
                make -j\"$JOBS\" -C libxslt\n\
                make -j\"$JOBS\" -C libexslt\n\
                make -C libxslt install DESTDIR=\"$DESTDIR\"\n\
                make -C libexslt install DESTDIR=\"$DESTDIR\"\n\
                make install-pkgconfigDATA install-binSCRIPTS DESTDIR=\"$DESTDIR\"",
    },
    PackRecipe {
        name: "libyaml",
        version: "0.2.5",
        url: "https://deb.debian.org/debian/pool/main/liby/libyaml/libyaml_0.2.5.orig.tar.gz",
        sha256: "fa240dbf262be053f3898006d502d514936c818e422afdcf33921c63bed9bf2e",
        folder: "libyaml-0.2.5",
        depends: &[],
        link_env: &[],
        tools: &[],
        cpu: "",
        // The tarball is the git tree without a generated configure (and the environment
        // has no autotools): its eight C files are compiled directly, with the version
        // defines configure would write, and the .pc file written as yaml-0.1.pc.in says.
        build: "cd src\n\
                for f in api reader scanner parser loader writer emitter dumper; do \
                \"$CC\" -O2 -fPIC -I../include -DYAML_VERSION_MAJOR=0 -DYAML_VERSION_MINOR=2 -DYAML_VERSION_PATCH=5 '-DYAML_VERSION_STRING=\"0.2.5\"' -c $f.c; done\n\
                $(command -v s390x-linux-gnu-ar || echo ar) rcs libyaml.a *.o\n\
                mkdir -p \"$DESTDIR$PREFIX/lib/pkgconfig\" \"$DESTDIR$PREFIX/include\"\n\
                cp libyaml.a \"$DESTDIR$PREFIX/lib/\"\n\
                cp ../include/yaml.h \"$DESTDIR$PREFIX/include/\"\n\
                printf 'prefix=%s\\nlibdir=${prefix}/lib\\nincludedir=${prefix}/include\\n\\nName: LibYAML\\nDescription: Library to parse and emit YAML\\nVersion: 0.2.5\\nCflags: -I${includedir}\\nLibs: -L${libdir} -lyaml\\n' \"$PREFIX\" > \"$DESTDIR$PREFIX/lib/pkgconfig/yaml-0.1.pc\"",
    },
    PackRecipe {
        name: "openssl",
        version: "3.0.20",
        url: "https://deb.debian.org/debian/pool/main/o/openssl/openssl_3.0.20.orig.tar.gz",
        sha256: "c80a01dfc70ece4dc21168932c37739042d404d46ccc81a5986dd75314ecda6f",
        folder: "openssl-3.0.20",
        depends: &[],
        // openssl-sys honours OPENSSL_STATIC only for a named OPENSSL_DIR (through
        // pkg-config it links libssl.so).
        link_env: &[("OPENSSL_DIR", "$PREFIX"), ("OPENSSL_STATIC", "1")],
        tools: &[],
        cpu: "",
        // Configure is Perl (emulated); only the libraries, headers and .pc files are
        // built and installed. no-asm: the s390x perlasm output is GNU as syntax that
        // clang's assembler is not known to take; no-dso: nothing loads modules, so the
        // static library needs no dlopen.
        build: "./Configure linux64-s390x no-shared no-asm no-dso no-tests no-engine --prefix=\"$PREFIX\" --libdir=lib --openssldir=/etc/ssl -fPIC\n\
                make -j\"$JOBS\" build_libs\n\
                make install_dev DESTDIR=\"$DESTDIR\"",
    },
    PackRecipe {
        name: "libjpeg-turbo",
        version: "2.1.5",
        url: "https://deb.debian.org/debian/pool/main/libj/libjpeg-turbo/libjpeg-turbo_2.1.5.orig.tar.gz",
        sha256: "254f3642b04e309fee775123133c6464181addc150499561020312ec61c1bf7c",
        folder: "libjpeg-turbo-2.1.5",
        depends: &[],
        link_env: &[],
        tools: &[CMAKE],
        cpu: "",
        // libjpeg (the libjpeg-6b API that Pillow and others link) without TurboJPEG, the
        // programs or the SIMD code (its s390x build has none). CMAKE_SYSTEM_PROCESSOR
        // names the target: CMake runs emulated and reads the machine as s390x anyway.
        // CMake 4 refuses the project's cmake_minimum_required(2.8.12) without the
        // policy floor. Its install rules take a relative libdir as relative to the build
        // folder: the libdir is absolute.
        build: "cmake -G 'Unix Makefiles' -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=\"$PREFIX\" -DCMAKE_INSTALL_LIBDIR=\"$PREFIX/lib\" -DCMAKE_C_COMPILER=s390x-linux-gnu-gcc -DCMAKE_SYSTEM_PROCESSOR=s390x -DENABLE_SHARED=OFF -DENABLE_STATIC=ON -DCMAKE_POSITION_INDEPENDENT_CODE=ON -DWITH_SIMD=OFF -DWITH_TURBOJPEG=OFF -DWITH_JPEG8=OFF -DCMAKE_POLICY_VERSION_MINIMUM=3.5 .\n\
                make -j\"$JOBS\"\n\
                make install DESTDIR=\"$DESTDIR\"",
    },
    PackRecipe {
        name: "openblas",
        version: "0.3.31",
        // Debian's orig tarball (openblas_0.3.29+ds) leaves out lapack-netlib, so it has
        // no LAPACK without a Fortran compiler. The PyPI sdist of cmeel-openblas 0.3.31
        // carries upstream's v0.3.31 tree unchanged (a git submodule), with LAPACK's C
        // translation (lapack-netlib/SRC/*.c): its sha256 is PyPI's.
        url: "https://files.pythonhosted.org/packages/f5/22/65d8106bfb0942915c4f59cc5973e5d5fc6d9b0788fe76139f7f971f635d/cmeel_openblas-0.3.31.tar.gz",
        sha256: "a3fe5e5875393a37f569da9bf1403adae45579570e8582b837bd985746d9ac20",
        folder: "cmeel_openblas-0.3.31/OpenBLAS",
        depends: &[],
        link_env: &[],
        tools: &[],
        cpu: "TARGET=Z13: OpenBLAS's z13 kernels (vector facility), the level of Zig's \
              s390x default (arch11) that every pack and extension is compiled for",
        // BLAS, CBLAS and LAPACK (C_LAPACK: no Fortran, so no libgfortran to graft),
        // pthreads, LP64. No LAPACKE: numpy and scipy call LAPACK's Fortran symbols
        // (dgesv_), and its 2,700 C files would double the build. One kernel set, Z13: the code around it is arch11
        // anyway, so a machine without the vector facility could not run it, and
        // DYNAMIC_ARCH (ZARCH_GENERIC + Z13 + Z14, for Z14's single-precision kernels)
        // would compile the kernels three times in a build that is already the longest
        // pack. getarch is built with HOSTCC and runs emulated.
        build: "set -- HOSTCC=s390x-linux-gnu-gcc NOFORTRAN=1 C_LAPACK=1 NO_LAPACKE=1 TARGET=Z13 NO_SHARED=1 USE_OPENMP=0 USE_THREAD=1 NUM_THREADS=64 PREFIX=\"$PREFIX\"\n\
                make -j\"$JOBS\" \"$@\" libs netlib\n\
                make \"$@\" install DESTDIR=\"$DESTDIR\"",
    },
    PackRecipe {
        name: "bzip2",
        version: "1.0.8",
        url: "https://deb.debian.org/debian/pool/main/b/bzip2/bzip2_1.0.8.orig.tar.gz",
        sha256: "ab5a03176ee106d3f0fa90e381da478ddae405918153cca248e682cd0c4a2269",
        folder: "bzip2-1.0.8",
        depends: &[],
        link_env: &[],
        tools: &[],
        cpu: "",
        // A plain Makefile that names gcc itself; upstream has no .pc file, so bzip2.pc is
        // written as Debian's libbz2-dev ships it.
        build: "make -j\"$JOBS\" libbz2.a CC=\"$CC\" CFLAGS=\"-O2 -fPIC -D_FILE_OFFSET_BITS=64\"\n\
                mkdir -p \"$DESTDIR$PREFIX/lib/pkgconfig\" \"$DESTDIR$PREFIX/include\"\n\
                cp libbz2.a \"$DESTDIR$PREFIX/lib/\"\n\
                cp bzlib.h \"$DESTDIR$PREFIX/include/\"\n\
                printf 'prefix=%s\\nlibdir=${prefix}/lib\\nincludedir=${prefix}/include\\n\\nName: bzip2\\nDescription: lossless, block-sorting data compression library\\nVersion: 1.0.8\\nLibs: -L${libdir} -lbz2\\nCflags: -I${includedir}\\n' \"$PREFIX\" > \"$DESTDIR$PREFIX/lib/pkgconfig/bzip2.pc\"",
    },
    PackRecipe {
        name: "xz",
        version: "5.4.1",
        url: "https://deb.debian.org/debian/pool/main/x/xz-utils/xz-utils_5.4.1.orig.tar.xz",
        sha256: "5d9827aa1875b21c288f78864bb26d2650b436ea8d2cad364e4921eb6266a5a5",
        folder: "xz-5.4.1",
        depends: &[],
        link_env: &[],
        tools: &[],
        cpu: "",
        // liblzma only (its headers and liblzma.pc come with it): no programs, scripts,
        // documentation or translations.
        build: "./configure --host=s390x-linux-gnu --prefix=\"$PREFIX\" --disable-shared --enable-static --with-pic --disable-xz --disable-xzdec --disable-lzmadec --disable-lzmainfo --disable-lzma-links --disable-scripts --disable-doc --disable-nls\n\
                make -j\"$JOBS\" -C src/liblzma\n\
                make -C src/liblzma install DESTDIR=\"$DESTDIR\"",
    },
    PackRecipe {
        name: "zstd",
        version: "1.5.4",
        url: "https://deb.debian.org/debian/pool/main/libz/libzstd/libzstd_1.5.4+dfsg2.orig.tar.xz",
        sha256: "8cf4bbb65e77ec348d052c8d6230eba66d435bddf64c8b5be2fcb16880c19953",
        folder: "zstd-1.5.4",
        depends: &[],
        link_env: &[],
        tools: &[],
        cpu: "",
        // The multi-threaded static library (`-mt`: ZSTD_MULTITHREAD, and -pthread in the
        // .pc file's private libraries).
        build: "make -C lib -j\"$JOBS\" libzstd.a-mt CFLAGS=\"-O2 -fPIC\"\n\
                make -C lib libzstd.pc-mt PREFIX=\"$PREFIX\"\n\
                make -C lib install-pc install-static install-includes PREFIX=\"$PREFIX\" DESTDIR=\"$DESTDIR\"",
    },
    PackRecipe {
        name: "lz4",
        version: "1.9.4",
        url: "https://deb.debian.org/debian/pool/main/l/lz4/lz4_1.9.4.orig.tar.gz",
        sha256: "0b0e3aa07c8c063ddf40b082bdf7e37a1562bda40a0ff5272957f3e987e0e54b",
        folder: "lz4-1.9.4",
        depends: &[],
        link_env: &[],
        tools: &[],
        cpu: "",
        build: "make -C lib -j\"$JOBS\" BUILD_SHARED=no CFLAGS=\"-O2 -fPIC\" PREFIX=\"$PREFIX\" install DESTDIR=\"$DESTDIR\"",
    },
    PackRecipe {
        name: "libpng",
        version: "1.6.39",
        url: "https://deb.debian.org/debian/pool/main/libp/libpng1.6/libpng1.6_1.6.39.orig.tar.gz",
        sha256: "a00e9d2f2f664186e4202db9299397f851aea71b36a35e74910b8820e380d441",
        folder: "libpng-1.6.39",
        depends: &["zlib"],
        link_env: &[],
        tools: &[],
        cpu: "",
        // `make install` whole: its hooks link png.h, libpng.a and libpng.pc to the
        // libpng16 names that users ask for.
        build: "./configure --host=s390x-linux-gnu --prefix=\"$PREFIX\" --disable-shared --enable-static --with-pic\n\
                make -j\"$JOBS\"\n\
                make install DESTDIR=\"$DESTDIR\"",
    },
    PackRecipe {
        name: "freetype",
        version: "2.12.1",
        url: "https://deb.debian.org/debian/pool/main/f/freetype/freetype_2.12.1+dfsg.orig.tar.xz",
        sha256: "7dedb6b9adf331559daea614a83b8de42a753e685ec8e1c4bdb4529eb880b0d1",
        folder: "freetype-2.12.1",
        depends: &["zlib"],
        link_env: &[],
        tools: &[],
        cpu: "",
        // zlib (compressed fonts) from its pack; none of the optional libraries the
        // environment might have (bzip2, libpng, HarfBuzz, Brotli).
        build: "./configure --host=s390x-linux-gnu --prefix=\"$PREFIX\" --disable-shared --enable-static --with-pic --with-zlib=yes --with-bzip2=no --with-png=no --with-harfbuzz=no --with-brotli=no\n\
                make -j\"$JOBS\"\n\
                make install DESTDIR=\"$DESTDIR\"",
    },
    PackRecipe {
        name: "libwebp",
        version: "1.2.4",
        url: "https://deb.debian.org/debian/pool/main/libw/libwebp/libwebp_1.2.4.orig.tar.gz",
        sha256: "7bf5a8a28cc69bcfa8cb214f2c3095703c6b73ac5fba4d5480c205331d9494df",
        folder: "libwebp-1.2.4",
        depends: &[],
        link_env: &[],
        tools: &[],
        cpu: "",
        // libwebp with libwebpmux and libwebpdemux (Pillow links all three), without the
        // example programs and their image libraries. libsharpyuv is a convenience
        // library libwebp's encoder folds in: made first, not installed.
        build: "./configure --host=s390x-linux-gnu --prefix=\"$PREFIX\" --disable-shared --enable-static --with-pic --enable-libwebpmux --enable-libwebpdemux --disable-gl --disable-sdl --disable-png --disable-jpeg --disable-tiff --disable-gif --disable-wic\n\
                make -j\"$JOBS\" -C sharpyuv\n\
                make -j\"$JOBS\" -C src\n\
                make -C src install DESTDIR=\"$DESTDIR\"",
    },
    PackRecipe {
        name: "libtiff",
        version: "4.5.0",
        url: "https://deb.debian.org/debian/pool/main/t/tiff/tiff_4.5.0.orig.tar.bz2",
        sha256: "638f43d7dea33948d5dee7f39572fc0194d9cc3c74195de9dd26a4388a1f880a",
        folder: "libtiff-v4.5.0",
        depends: &["zlib", "libjpeg-turbo"],
        link_env: &[],
        tools: &[CMAKE],
        cpu: "",
        // The tarball has no configure: CMake, as for libjpeg-turbo. Deflate and JPEG
        // from the packs; every other codec library off, so none of the environment's
        // (newer glibc) is found and linked.
        build: "cmake -G 'Unix Makefiles' -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=\"$PREFIX\" -DCMAKE_INSTALL_LIBDIR=\"$PREFIX/lib\" -DCMAKE_C_COMPILER=s390x-linux-gnu-gcc -DCMAKE_CXX_COMPILER=s390x-linux-gnu-g++ -DCMAKE_SYSTEM_PROCESSOR=s390x -DBUILD_SHARED_LIBS=OFF -DCMAKE_POSITION_INDEPENDENT_CODE=ON -DCMAKE_PREFIX_PATH=\"$PACK_ZLIB;$PACK_LIBJPEG_TURBO\" -Dtiff-tools=OFF -Dtiff-tests=OFF -Dtiff-contrib=OFF -Dtiff-docs=OFF -Dcxx=OFF -Dzlib=ON -Djpeg=ON -Dlibdeflate=OFF -Djbig=OFF -Dlerc=OFF -Dlzma=OFF -Dzstd=OFF -Dwebp=OFF -DCMAKE_POLICY_VERSION_MINIMUM=3.5 .\n\
                make -j\"$JOBS\"\n\
                make install DESTDIR=\"$DESTDIR\"",
    },
    PackRecipe {
        name: "libgfortran",
        version: "12.2.0",
        // Debian's gcc-12 orig tarball (gcc-12_12.2.0-14+deb12u1.dsc) holds upstream's tree
        // as an inner gcc-12.2.0-dfsg.tar.xz: the same GCC as the gfortran cross
        // (gfortran-s390x-linux-gnu 12.2.0), so the library and the compiler agree.
        url: "https://deb.debian.org/debian/pool/main/g/gcc-12/gcc-12_12.2.0.orig.tar.gz",
        sha256: "b8298be16aeeb96a889c6afed0a8e2241b47452e89cc81fe65ea849d5c740fcb",
        folder: "gcc-12-12.2.0",
        depends: &[],
        link_env: &[],
        tools: &[],
        cpu: "C code: arch11 (z13, Zig's s390x default); Fortran code: arch9 (z196, the \
              gfortran cross's default)",
        // GCC's Fortran run-time library alone, static and position independent (Debian's
        // libgfortran.a is not: R_390_TLS_LE64; its libgfortran.so.5 needs GLIBC_2.34):
        // only the parts of the inner tarball it needs are unpacked (the whole is 800 MB).
        // libbacktrace is built first and goes into the archive (no unwinder: its
        // backtraces are empty). C is compiled by the glibc-targeted compiler, Fortran by
        // the gfortran cross itself (the `gfortran` on PATH is the Zig-linking wrapper,
        // which needs this pack), found in the cross tools' folder
        // (accelerate::GUEST_SHIM_DIR); libgfortran's configure takes it from GFORTRAN
        // (it sets FC=$GFORTRAN, then looks on PATH). The configure scripts and Makefiles
        // look for GCC's build tree: gthr-default.h of libgcc (POSIX threads), an include
        // folder ../.././gcc, gcc/BASE-VER, and gcc/config, which the Fortran compiles name
        // with -I under -Werror (gfortran: missing-include-dirs).
        build: "python3 -c 'import sys, tarfile; keep = (\"libgfortran/\", \"libbacktrace/\", \"libgcc/\", \"include/\", \"gcc/fortran/libgfortran.h\", \"gcc/BASE-VER\"); t = tarfile.open(sys.argv[1]); f = {\"filter\": \"data\"} if hasattr(tarfile, \"data_filter\") else {}; [t.extract(m, **f) for m in t if (m.isfile() and \"/\" not in m.name.partition(\"/\")[2]) or m.name.partition(\"/\")[2].startswith(keep)]' gcc-12.2.0-dfsg.tar.xz\n\
                mkdir -p b/libbacktrace b/libgfortran b/libgcc gcc gcc-12.2.0/gcc/config\n\
                cp gcc-12.2.0/libgcc/gthr-posix.h b/libgcc/gthr-default.h\n\
                cd b/libbacktrace\n\
                ../../gcc-12.2.0/libbacktrace/configure --host=s390x-linux-gnu --disable-shared --with-pic --disable-dependency-tracking CFLAGS=\"-O2 -g0\"\n\
                make -j\"$JOBS\"\n\
                cd ../libgfortran\n\
                ../../gcc-12.2.0/libgfortran/configure --host=s390x-linux-gnu --target=s390x-linux-gnu --prefix=\"$PREFIX\" --disable-multilib --disable-shared --enable-static --with-pic --disable-dependency-tracking CFLAGS=\"-O2 -g0\" FCFLAGS=\"-O2 -g0\" GFORTRAN=/opt/refinery-cross/bin/s390x-linux-gnu-gfortran\n\
                make -j\"$JOBS\"\n\
                mkdir -p \"$DESTDIR$PREFIX/lib\"\n\
                cp .libs/libgfortran.a \"$DESTDIR$PREFIX/lib/\"",
    },
    PackRecipe {
        name: "sqlite",
        version: "3.46.1",
        // Debian's orig tarball (sqlite3_3.46.1.orig.tar.xz) is the canonical tree, whose
        // amalgamation is made by Tcl scripts: the build environments have no tclsh. The
        // PyPI sdist of rotki-sqlite 2025.8.1 carries the 3.46.1 amalgamation's sqlite3.c
        // (SQLITE_SOURCE_ID 2024-08-13 09:16:08 c9c2ab54…, upstream's 3.46.1 check-in);
        // its sha256 is PyPI's.
        url: "https://files.pythonhosted.org/packages/0f/ac/374b2397b49274bbfac5c2b72e044ea59e634e87c82b8f2aa10e64b982a9/rotki_sqlite-2025.8.1.tar.gz",
        sha256: "3e65101f7329f1fd9e83a7519bdff4e09bdcea1d86f6a4450c11ad5c6846acd6",
        folder: "rotki_sqlite-2025.8.1",
        depends: &[],
        link_env: &[],
        tools: &[],
        cpu: "",
        // One compile of the amalgamation with the options of Debian's libsqlite3 that
        // Python users ask for (FTS3/4/5, R*Tree, column metadata, unlock notify), thread
        // safe. The sdist has no sqlite3.h: the amalgamation holds it between its "Begin
        // file sqlite3.h" and "End of sqlite3.h" banners, with its three variables defined
        // there (sqlite3_version, sqlite3_temp_directory, sqlite3_data_directory; every user
        // would define them again: duplicate symbols) instead of declared `SQLITE_EXTERN`
        // as sqlite3.h has them: put back. The version check makes sure the sdist carries
        // the version this recipe names.
        build: "grep -q '^#define SQLITE_VERSION  *\"3.46.1\"' sqlite3.c\n\
                \"$CC\" -O2 -fPIC -DSQLITE_THREADSAFE=1 -DSQLITE_ENABLE_FTS3 -DSQLITE_ENABLE_FTS3_PARENTHESIS -DSQLITE_ENABLE_FTS4 -DSQLITE_ENABLE_FTS5 -DSQLITE_ENABLE_RTREE -DSQLITE_ENABLE_COLUMN_METADATA -DSQLITE_ENABLE_UNLOCK_NOTIFY -DSQLITE_ENABLE_DBSTAT_VTAB -DSQLITE_SECURE_DELETE -c sqlite3.c\n\
                $(command -v s390x-linux-gnu-ar || echo ar) rcs libsqlite3.a sqlite3.o\n\
                mkdir -p \"$DESTDIR$PREFIX/lib/pkgconfig\" \"$DESTDIR$PREFIX/include\"\n\
                awk '/Begin file sqlite3.h \\*/ {on = 1; next} /End of sqlite3.h \\*/ {on = 0} on' sqlite3.c > \"$DESTDIR$PREFIX/include/sqlite3.h\"\n\
                sed -i -e 's/^SQLITE_API const char sqlite3_version\\[\\] = SQLITE_VERSION;/SQLITE_API SQLITE_EXTERN const char sqlite3_version[];/' -e 's/^SQLITE_API char \\*sqlite3_\\(temp\\|data\\)_directory;/SQLITE_API SQLITE_EXTERN char *sqlite3_\\1_directory;/' \"$DESTDIR$PREFIX/include/sqlite3.h\"\n\
                test \"$(grep -c '^SQLITE_API SQLITE_EXTERN' \"$DESTDIR$PREFIX/include/sqlite3.h\")\" = 3\n\
                grep -q 'SQLITE_API int sqlite3_open_v2' \"$DESTDIR$PREFIX/include/sqlite3.h\"\n\
                cp libsqlite3.a \"$DESTDIR$PREFIX/lib/\"\n\
                printf 'prefix=%s\\nlibdir=${prefix}/lib\\nincludedir=${prefix}/include\\n\\nName: SQLite\\nDescription: SQL database engine\\nVersion: 3.46.1\\nLibs: -L${libdir} -lsqlite3\\nLibs.private: -lpthread -ldl -lm\\nCflags: -I${includedir}\\n' \"$PREFIX\" > \"$DESTDIR$PREFIX/lib/pkgconfig/sqlite3.pc\"",
    },
];

/// The recipe of the pack `name`.
pub fn recipe(name: &str) -> Option<&'static PackRecipe> {
    RECIPES.iter().find(|r| r.name == name)
}

/// The names of every pack.
pub fn names() -> Vec<&'static str> {
    RECIPES.iter().map(|r| r.name).collect()
}

/// The recipes of `names` and of every pack they depend on, each once, dependencies
/// before the packs that link them (`["libxslt"]` → zlib, libxml2, libxslt). `Err` names
/// an unknown pack.
pub fn with_dependencies(names: &[String]) -> Result<Vec<&'static PackRecipe>, String> {
    fn visit(
        name: &str,
        wanted_by: Option<&str>,
        out: &mut Vec<&'static PackRecipe>,
    ) -> Result<(), String> {
        let recipe = recipe(name).ok_or_else(|| match wanted_by {
            Some(parent) => format!("the pack {parent} depends on {name:?}, which has no recipe"),
            None => format!(
                "there is no native library pack named {name:?} (known: {})",
                self::names().join(", ")
            ),
        })?;
        if out.iter().any(|r| r.name == recipe.name) {
            return Ok(());
        }
        for dependency in recipe.depends {
            visit(dependency, Some(recipe.name), out)?;
        }
        out.push(recipe);
        Ok(())
    }
    let mut out = Vec::new();
    for name in names {
        visit(name, None, &mut out)?;
    }
    Ok(out)
}

impl PackRecipe {
    /// Folder name for a target: readable prefix (`<name>-<version>-glibc<X.Y>-`) and a
    /// hash of the recipe, the target glibc, the toolchain's identity (a changed Zig or
    /// wrapper makes a new pack) and the dependencies' keys (a rebuilt zlib makes a new
    /// libxml2).
    pub fn key(&self, target: &PackTarget) -> String {
        let dependencies: Vec<String> = self
            .depends
            .iter()
            .map(|d| recipe(d).map_or_else(|| (*d).to_string(), |r| r.key(target)))
            .collect();
        let json = serde_json::to_vec(&(self, target, dependencies)).expect("recipes serialize");
        let digest = hex::encode(&Sha256::digest(&json)[..6]);
        format!(
            "{}-{}-glibc{}.{}-{digest}",
            self.name, self.version, target.glibc.0, target.glibc.1
        )
    }

    fn file_name(&self) -> &'static str {
        self.url.rsplit('/').next().unwrap_or(self.url)
    }
}

/// What a pack is built for and with; part of its key and of its `refinery-pack.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackTarget {
    /// The target glibc, e.g. (2, 17).
    pub glibc: (u16, u16),
    /// The compiler's identity ([`crate::zig::ZigToolchain::identity`]).
    pub toolchain: String,
}

impl PackTarget {
    /// Packs compiled by `zig`.
    pub fn of(zig: &crate::zig::ZigToolchain) -> PackTarget {
        PackTarget {
            glibc: zig.glibc,
            toolchain: zig.identity(),
        }
    }
}

/// The variable naming a mirror of the pack sources: a base URL (`https://…/` or
/// `file:///…/`) under which every pinned source archive and build-tool wheel is found by
/// its file name (e.g. `$REFINERY_PACK_SOURCES/zlib_1.2.13.dfsg.orig.tar.bz2`), for
/// machines that cannot reach Debian or PyPI. What comes from it is checked against the
/// recipe's sha256 like the original; pack keys do not change.
pub const SOURCES_MIRROR_VAR: &str = "REFINERY_PACK_SOURCES";

/// Where the pinned source `url` is fetched from: from the mirror in
/// [`SOURCES_MIRROR_VAR`] when it is set (non-empty), else `url` itself.
pub fn source_url(url: &str) -> String {
    match std::env::var(SOURCES_MIRROR_VAR) {
        Ok(base) if !base.trim().is_empty() => format!(
            "{}/{}",
            base.trim().trim_end_matches('/'),
            url.rsplit('/').next().unwrap_or(url)
        ),
        _ => url.to_string(),
    }
}

/// Download `url` into `dir` with `client` (its files cache serves later runs), refusing
/// bytes whose sha256 is not `sha256`: the error then names the file and both digests.
pub fn fetch_source(
    client: &refinery_index::IndexClient,
    url: &str,
    sha256: &str,
    dir: &Path,
) -> Result<PathBuf, String> {
    let file = refinery_index::DistFile {
        filename: url.rsplit('/').next().unwrap_or(url).to_string(),
        url: url.to_string(),
        sha256: Some(sha256.to_string()),
        requires_python: None,
        yanked: false,
        has_metadata: false,
        index: url.to_string(),
    };
    client
        .download(&file, dir)
        .map_err(|e| format!("cannot download the pack source {url}: {e}"))
}

/// A finished pack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pack {
    pub name: String,
    pub key: String,
}

impl Pack {
    /// The pack's prefix as build steps see it.
    pub fn guest_prefix(&self) -> String {
        format!("{GUEST_PACKS_DIR}/{}", self.key)
    }
}

/// Variables that make build systems find `packs` first: headers (`CPATH`), libraries
/// (`LIBRARY_PATH` and `-L` in `LDFLAGS`, appended to `ldflags` when the build sets it)
/// and `pkg-config` files (`PKG_CONFIG_PATH`).
pub fn build_env(packs: &[Pack], ldflags: Option<&str>) -> Vec<(String, String)> {
    if packs.is_empty() {
        return Vec::new();
    }
    let join = |sub: &str| {
        packs
            .iter()
            .map(|p| format!("{}/{sub}", p.guest_prefix()))
            .collect::<Vec<_>>()
    };
    let link: Vec<String> = join("lib").iter().map(|l| format!("-L{l}")).collect();
    let ldflags = ldflags
        .into_iter()
        .map(str::to_string)
        .chain(link)
        .collect::<Vec<_>>()
        .join(" ");
    let mut env = vec![
        ("CPATH".into(), join("include").join(":")),
        ("LIBRARY_PATH".into(), join("lib").join(":")),
        ("LDFLAGS".into(), ldflags),
        ("PKG_CONFIG_PATH".into(), join("lib/pkgconfig").join(":")),
    ];
    for pack in packs {
        let link_env = recipe(&pack.name).map_or(&[][..], |r| r.link_env);
        env.extend(
            link_env
                .iter()
                .map(|(k, v)| ((*k).to_string(), v.replace("$PREFIX", &pack.guest_prefix()))),
        );
    }
    env
}

/// Another store that may hold finished packs (a remote worker's control plane, see
/// `GET /api/packs/{key}`), asked before a pack is built.
pub trait PackMirror: Send + Sync {
    /// Downloads the archive of the pack `key` (see [`archive`]) into the folder `dir`.
    /// `Ok(None)`: the mirror does not have it. `Err`: the mirror could not be asked (the
    /// pack is then built here).
    fn fetch(&self, key: &str, dir: &Path) -> Result<Option<MirroredPack>, String>;
}

/// A pack archive a [`PackMirror`] downloaded, not yet checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirroredPack {
    /// The downloaded `.tar.gz`.
    pub archive: PathBuf,
    /// The sha256 (hex) the mirror says it has.
    pub sha256: String,
    /// Where it came from, without credentials (for messages).
    pub url: String,
}

/// The packs folder of an environments folder.
#[derive(Clone)]
pub struct PackStore {
    dir: PathBuf,
    mirror: Option<std::sync::Arc<dyn PackMirror>>,
}

impl std::fmt::Debug for PackStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PackStore")
            .field("dir", &self.dir)
            .field("mirror", &self.mirror.is_some())
            .finish()
    }
}

impl PackStore {
    /// `<envs>/packs`.
    pub fn new(envs_dir: &Path) -> PackStore {
        PackStore::at(envs_dir.join("packs"))
    }

    /// The packs folder `dir` itself (a control plane's, which serves it).
    pub fn at(dir: PathBuf) -> PackStore {
        PackStore { dir, mirror: None }
    }

    /// This store, asking `mirror` for a missing pack before building it.
    pub fn with_mirror(mut self, mirror: std::sync::Arc<dyn PackMirror>) -> PackStore {
        self.mirror = Some(mirror);
        self
    }

    /// The finished pack `key` of this store (its folder holds the marker file), or
    /// `None`. `key` must be a pack key (see [`is_pack_key`]).
    pub fn finished(&self, key: &str) -> Option<PathBuf> {
        let path = self.dir.join(key);
        (is_pack_key(key) && path.join(MARKER_FILE).is_file()).then_some(path)
    }

    /// The archive of the finished pack `key` (see [`archive::write`]) and its sha256,
    /// made once into `<packs>/.archives/<key>.tar.gz` (with `<key>.sha256` beside it) and
    /// made again when the pack's marker is newer. `Ok(None)`: no such finished pack.
    pub fn archive(&self, key: &str) -> Result<Option<(PathBuf, String)>, String> {
        let Some(pack) = self.finished(key) else {
            return Ok(None);
        };
        let dir = self.dir.join(".archives");
        let file = dir.join(format!("{key}.tar.gz"));
        let sha_file = dir.join(format!("{key}.sha256"));
        let lock_path = self.dir.join(".locks").join(format!("{key}.archive.lock"));
        let _lock = crate::layers::lock_exclusive(&lock_path)
            .map_err(|e| format!("cannot lock {}: {e}", lock_path.display()))?;
        let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        let current = match (modified(&file), modified(&pack.join(MARKER_FILE))) {
            (Some(made), Some(marker)) => made >= marker,
            _ => false,
        };
        if current {
            if let Ok(sha) = std::fs::read_to_string(&sha_file) {
                return Ok(Some((file, sha.trim().to_string())));
            }
        }
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let partial = dir.join(format!(".{key}.tar.gz.{}", std::process::id()));
        let out = std::fs::File::create(&partial)
            .map_err(|e| format!("cannot create {}: {e}", partial.display()))?;
        let written = archive::write(&pack, std::io::BufWriter::new(out)).and_then(|sha| {
            std::fs::write(&sha_file, format!("{sha}\n"))
                .and_then(|()| std::fs::rename(&partial, &file))
                .map_err(|e| format!("cannot store the archive {}: {e}", file.display()))
                .map(|()| sha)
        });
        let _ = std::fs::remove_file(&partial);
        written.map(|sha| Some((file, sha)))
    }

    /// The folder bound at [`GUEST_PACKS_DIR`].
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The pack `recipe` for `target`, made first with `runner` (which must compile with
    /// the glibc-targeted compiler) when it does not exist; `dependencies` are the finished
    /// packs it links (see [`with_dependencies`]). The source comes through `download`
    /// (url, sha256, folder) → file. The build's output goes to `log_path`, which a
    /// failure names; a failed build leaves nothing in the store.
    #[allow(clippy::too_many_arguments)]
    pub fn ensure(
        &self,
        recipe: &PackRecipe,
        target: &PackTarget,
        dependencies: &[Pack],
        runner: &dyn Runner,
        download: &dyn Fn(&str, &str, &Path) -> Result<PathBuf, String>,
        log_path: &Path,
        reporter: &dyn Reporter,
    ) -> Result<Pack, String> {
        let key = recipe.key(target);
        let pack = Pack {
            name: recipe.name.to_string(),
            key: key.clone(),
        };
        let path = self.dir.join(&key);
        if path.join(MARKER_FILE).is_file() {
            return Ok(pack);
        }
        let lock_path = self.dir.join(".locks").join(format!("{key}.lock"));
        let _lock = crate::layers::lock_exclusive(&lock_path)
            .map_err(|e| format!("cannot lock {}: {e}", lock_path.display()))?;
        if path.join(MARKER_FILE).is_file() {
            return Ok(pack);
        }
        reporter.message(&format!(
            "making the native library pack {key} ({} {} for glibc {}.{} with {}, static)",
            recipe.name, recipe.version, target.glibc.0, target.glibc.1, target.toolchain
        ));
        // Work folders of this key that a killed run left (any process id): the lock
        // says nobody builds this key now. A cold OpenBLAS leaves gigabytes.
        let stale = format!(".{key}.work-");
        for entry in std::fs::read_dir(&self.dir).into_iter().flatten().flatten() {
            if entry.file_name().to_string_lossy().starts_with(&stale) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        let work = self.dir.join(format!("{stale}{}", std::process::id()));
        if let Some(mirror) = &self.mirror {
            let mirrored = self.take_from_mirror(&**mirror, recipe, target, &work, reporter);
            let _ = std::fs::remove_dir_all(&work);
            if mirrored? {
                return Ok(pack);
            }
        }
        let job = PackJob {
            recipe,
            pack: &pack,
            dependencies,
            packs_dir: &self.dir,
            work: &work,
            log_path,
        };
        let made = job.make(runner, download).and_then(|()| {
            let staged = work
                .join("out")
                .join(pack.guest_prefix().trim_start_matches('/'));
            has_static_library(&staged.join("lib"))?;
            static_pkg_config_files(&staged.join("lib").join("pkgconfig"))?;
            let json = serde_json::to_vec_pretty(&serde_json::json!({
                "recipe": recipe,
                "target": target,
                "cpu": if recipe.cpu.is_empty() { ZIG_BASELINE_CPU } else { recipe.cpu },
            }))
            .expect("recipes serialize");
            std::fs::write(staged.join(MARKER_FILE), json)
                .map_err(|e| format!("cannot write into {}: {e}", staged.display()))?;
            // A stale folder without the marker (an older, interrupted move) is replaced.
            let _ = std::fs::remove_dir_all(&path);
            std::fs::rename(&staged, &path)
                .map_err(|e| format!("cannot move the pack to {}: {e}", path.display()))
        });
        let _ = std::fs::remove_dir_all(&work);
        made.map(|()| pack)
    }
}

impl PackStore {
    /// Asks `mirror` for the pack of `recipe` and `target` (the caller holds its lock):
    /// `Ok(true)` when it is now in the store, `Ok(false)` when the mirror does not have
    /// it or cannot be asked (said through `reporter`; the pack is then built). A download
    /// whose sha256 is not the one the mirror announced, an archive with paths leading
    /// out of its folder, or a pack whose `refinery-pack.json` is not this recipe's and
    /// target's is refused (`Err` naming the pack and the URL); nothing of it stays.
    fn take_from_mirror(
        &self,
        mirror: &dyn PackMirror,
        recipe: &PackRecipe,
        target: &PackTarget,
        work: &Path,
        reporter: &dyn Reporter,
    ) -> Result<bool, String> {
        let key = recipe.key(target);
        std::fs::create_dir_all(work)
            .map_err(|e| format!("cannot create {}: {e}", work.display()))?;
        let mirrored = match mirror.fetch(&key, work) {
            Ok(Some(mirrored)) => mirrored,
            Ok(None) => return Ok(false),
            Err(e) => {
                reporter.message(&format!(
                    "the pack {key} could not be fetched from the control plane ({e}); it is built here"
                ));
                return Ok(false);
            }
        };
        let refuse = |why: String| {
            format!(
                "the native library pack {key} downloaded from {} was refused: {why}; \
                 the control plane's copy may be damaged (delete its packs/.archives/{key}.* \
                 to have it made again) or the download was altered on the way",
                mirrored.url
            )
        };
        let sha256 = archive::sha256_of(&mirrored.archive)?;
        if !sha256.eq_ignore_ascii_case(&mirrored.sha256) {
            return Err(refuse(format!(
                "sha256 mismatch: expected {}, got {sha256}",
                mirrored.sha256
            )));
        }
        let partial = self.dir.join(format!(".{key}.partial"));
        let _ = std::fs::remove_dir_all(&partial);
        let checked = archive::unpack(&mirrored.archive, &partial)
            .and_then(|()| check_marker(&partial, recipe, target))
            .and_then(|()| has_static_library(&partial.join("lib")))
            .map_err(refuse)
            .and_then(|()| {
                let path = self.dir.join(&key);
                let _ = std::fs::remove_dir_all(&path);
                std::fs::rename(&partial, &path)
                    .map_err(|e| format!("cannot move the pack to {}: {e}", path.display()))
            });
        let _ = std::fs::remove_dir_all(&partial);
        checked?;
        reporter.message(&format!(
            "the native library pack {key} came from {} (sha256 {sha256})",
            mirrored.url
        ));
        Ok(true)
    }
}

/// Whether `key` has the shape of a pack key (`<name>-<version>-glibc<X.Y>-<hash>`:
/// letters, digits, `.`, `+`, `_` and `-`, not starting with `.`), so it names a folder
/// of the store and nothing else.
pub fn is_pack_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 200
        && !key.starts_with('.')
        && key.contains("-glibc")
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '_' | '-'))
}

/// Fails unless the unpacked pack at `dir` has a `refinery-pack.json` that records
/// `recipe` and `target` (a mirror's folder under the right key with another content is
/// not taken).
fn check_marker(dir: &Path, recipe: &PackRecipe, target: &PackTarget) -> Result<(), String> {
    let path = dir.join(MARKER_FILE);
    let text = std::fs::read(&path).map_err(|_| format!("it has no {MARKER_FILE}"))?;
    let marker: serde_json::Value =
        serde_json::from_slice(&text).map_err(|e| format!("its {MARKER_FILE} is not JSON: {e}"))?;
    let expected_recipe = serde_json::to_value(recipe).expect("recipes serialize");
    let expected_target = serde_json::to_value(target).expect("targets serialize");
    if marker["recipe"] != expected_recipe || marker["target"] != expected_target {
        return Err(format!(
            "its {MARKER_FILE} records another recipe or target ({} {} for {})",
            marker["recipe"]["name"], marker["recipe"]["version"], marker["target"]
        ));
    }
    Ok(())
}

/// One pack build: what it makes, what it links, and where.
struct PackJob<'a> {
    recipe: &'a PackRecipe,
    pack: &'a Pack,
    dependencies: &'a [Pack],
    packs_dir: &'a Path,
    work: &'a Path,
    log_path: &'a Path,
}

impl PackJob<'_> {
    /// Fetch the source into the work folder and build it in the environment.
    fn make(
        &self,
        runner: &dyn Runner,
        download: &dyn Fn(&str, &str, &Path) -> Result<PathBuf, String>,
    ) -> Result<(), String> {
        let recipe = self.recipe;
        std::fs::create_dir_all(self.work.join("out"))
            .map_err(|e| format!("cannot create {}: {e}", self.work.display()))?;
        // Made first, so that a source that cannot be fetched is in it too.
        let log = crate::exec::Log::create(self.log_path, crate::exec::DEFAULT_LOG_CAP)
            .map_err(|e| format!("cannot create the log {}: {e}", self.log_path.display()))?;
        let fetch = |url: &str, sha256: &str| {
            let url = source_url(url);
            log.line(&format!("[refinery] fetching {url} (sha256 {sha256})"));
            download(&url, sha256, self.work).map_err(|e| {
                log.line(&format!("[refinery] {e}"));
                format!(
                    "the source of the pack {} {} could not be fetched: {e}; see {}",
                    recipe.name,
                    recipe.version,
                    self.log_path.display()
                )
            })
        };
        let tarball = fetch(recipe.url, recipe.sha256)?;
        let mut tools = String::new();
        for (i, tool) in recipe.tools.iter().enumerate() {
            let wheel = fetch(tool.url, tool.sha256)?;
            let wheel = wheel.file_name().map(|n| n.to_string_lossy().into_owned());
            // zipfile keeps no file modes: the programs are made executable again.
            tools.push_str(&format!(
                "{python} -m zipfile -e '{wheel}' tool{i}\nchmod +x tool{i}/{bin}/*\nPATH=\"$WORK/tool{i}/{bin}:$PATH\"\n",
                python = runner.python(),
                wheel = wheel.unwrap_or_default(),
                bin = tool.bin,
            ));
        }
        let work_mount = Mount::rw(self.work, GUEST_WORK);
        let guest_work = runner.guest_path(&work_mount);
        let script = format!(
            "set -e\ncd \"$WORK\"\n{tools}{python} -c {unpack} {tarball}\ncd {folder}\n{build}\n",
            python = runner.python(),
            unpack = UNPACK,
            tarball = tarball
                .file_name()
                .map_or_else(|| recipe.file_name().into(), |n| n.to_string_lossy()),
            folder = recipe.folder,
            build = recipe.build,
        );
        let mut env = vec![
            ("WORK".into(), guest_work.clone()),
            ("PREFIX".into(), self.pack.guest_prefix()),
            ("DESTDIR".into(), format!("{guest_work}/out")),
            (
                "JOBS".into(),
                std::thread::available_parallelism()
                    .map_or(1, std::num::NonZero::get)
                    .to_string(),
            ),
            ("HOME".into(), format!("{guest_work}/out")),
        ];
        let mut mounts = vec![work_mount];
        if !self.dependencies.is_empty() {
            env.extend(build_env(self.dependencies, None));
            env.extend(self.dependencies.iter().map(|d| {
                (
                    format!("PACK_{}", d.name.to_ascii_uppercase().replace('-', "_")),
                    d.guest_prefix(),
                )
            }));
            mounts.push(Mount::ro(self.packs_dir, GUEST_PACKS_DIR));
        }
        let spec = RunSpec {
            argv: vec!["sh".into(), "-c".into(), script],
            env,
            mounts,
            workdir: guest_work,
            network: false,
            accelerate: true,
            zig: true,
            rust: None,
        };
        match crate::exec::run_logged(runner.command(&spec), &log, None, None) {
            Ok(crate::exec::Outcome::Success) => Ok(()),
            Ok(other) => Err(format!(
                "building the pack {} {} failed ({other:?}); see {}",
                recipe.name,
                recipe.version,
                self.log_path.display()
            )),
            Err(e) => Err(format!("cannot start the pack build: {e}")),
        }
    }
}

/// A pack whose build succeeded but installed no `lib/*.a` (e.g. a build system that
/// put it elsewhere) would be reused by every later run and fail their links: refused.
fn has_static_library(lib: &Path) -> Result<(), String> {
    let found = std::fs::read_dir(lib)
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| e.path().extension().is_some_and(|x| x == "a"));
    if found {
        Ok(())
    } else {
        Err(format!(
            "the pack build installed no static library into {}; see its log",
            lib.display()
        ))
    }
}

/// A pack holds static libraries only, so what a `.pc` file keeps for static linking
/// (`Libs.private`, `Requires.private`) is what every user needs: `pkg-config --libs
/// libxml-2.0` must then say `-lz -lm` too, or the extension is left with undefined zlib
/// symbols. Rewrites every `.pc` file of `dir` (none: nothing to do).
fn static_pkg_config_files(dir: &Path) -> Result<(), String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "pc") {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            std::fs::write(&path, static_pkg_config(&text))
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
    }
    Ok(())
}

/// `text` (a pkg-config file) with `Libs.private` appended to `Libs` and
/// `Requires.private` to `Requires` (comma separated), the private fields removed.
fn static_pkg_config(text: &str) -> String {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name).map(str::trim))
            .filter(|v| !v.is_empty())
    };
    let libs_private = field("Libs.private:");
    let requires_private = field("Requires.private:");
    let mut out = String::new();
    let mut has_requires = false;
    for line in text.lines() {
        if line.starts_with("Libs.private:") || line.starts_with("Requires.private:") {
            continue;
        }
        if let (Some(rest), Some(extra)) = (line.strip_prefix("Libs:"), libs_private) {
            out.push_str(&format!("Libs: {} {extra}\n", rest.trim()));
        } else if let Some(rest) = line.strip_prefix("Requires:") {
            has_requires = true;
            let all: Vec<&str> = [rest.trim()]
                .into_iter()
                .chain(requires_private)
                .filter(|v| !v.is_empty())
                .collect();
            out.push_str(&format!("Requires: {}\n", all.join(", ")));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    if let (false, Some(extra)) = (has_requires, requires_private) {
        out.push_str(&format!("Requires: {extra}\n"));
    }
    out
}

#[cfg(test)]
mod tests;
