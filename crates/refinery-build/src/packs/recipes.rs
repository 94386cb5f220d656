//! The pack recipes: pinned sources, build steps and the tools they need.

use super::{PackRecipe, PackTool};

/// CMake 4.4.5 from PyPI (`cmake`, `manylinux2014_s390x`).
const CMAKE: PackTool = PackTool {
    url: "https://files.pythonhosted.org/packages/f2/8d/1bbfb7c517d35e5098c6a9056dd490a91d45f35dd18be7be1dced2adfbad/cmake-4.4.5-py3-none-manylinux2014_s390x.manylinux_2_17_s390x.whl",
    sha256: "f5c6e586748e23b1fb23d9a8e5b469ec24e5b30ef08b7fc7b52e5c0de2f7a883",
    bin: "cmake/data/bin",
};

/// The packs this refinery can make.
pub(super) const RECIPES: &[PackRecipe] = &[
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
        header_only: false,
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
        header_only: false,
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
        header_only: false,
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
        header_only: false,
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
        header_only: false,
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
        header_only: false,
        // Configure is Perl (emulated); only the libraries, headers and .pc files are
        // built and installed. no-asm: the s390x perlasm output is GNU as syntax that
        // clang's assembler is not known to take; no-dso: nothing loads modules, so the
        // static library needs no dlopen.
        build: "./Configure linux64-s390x no-shared no-asm no-dso no-tests no-engine --prefix=\"$PREFIX\" --libdir=lib --openssldir=/etc/ssl -fPIC\n\
                make -j\"$JOBS\" build_libs\n\
                make install_dev DESTDIR=\"$DESTDIR\"",
    },
    PackRecipe {
        name: "libpq",
        version: "15.18",
        url: "https://deb.debian.org/debian/pool/main/p/postgresql-15/postgresql-15_15.18.orig.tar.bz2",
        sha256: "11df0df97fe3ea4ba9a791faaf39cee1d2fe571e78885b5b55d8517d27c323b4",
        folder: "postgresql-15.18",
        depends: &["openssl"],
        link_env: &[],
        tools: &[],
        cpu: "",
        header_only: false,
        // PostgreSQL's client library with TLS (the OpenSSL pack linked in statically), its
        // headers and pg_config, which psycopg2's setup.py runs (through binfmt) to find
        // them. libpq is built shared as well as static: psycopg2 links `-lpq`, and its
        // wheels carry libpq.so.5 grafted by auditwheel, as upstream's psycopg2-binary
        // wheels do. Static OpenSSL needs -lpthread on glibc 2.17. No server, no
        // readline, ICU, compression, Kerberos or LDAP. libpq's own check that the library
        // calls nothing that exits (`libpq-refs-stamp`) fails on the `atexit` that the
        // static OpenSSL registers its cleanup with: the same check runs with `atexit`
        // allowed, then the stamp is written.
        build: "LIBS=-lpthread ./configure --host=s390x-linux-gnu --prefix=\"$PREFIX\" --with-ssl=openssl --with-includes=\"$PACK_OPENSSL/include\" --with-libraries=\"$PACK_OPENSSL/lib\" --without-readline --without-icu --without-zlib --without-lz4 --without-zstd --without-libxml --without-libxslt --without-gssapi --without-ldap --without-pam --without-systemd --without-llvm --without-perl --without-python --without-tcl --disable-nls\n\
                make -j\"$JOBS\" -C src/interfaces/libpq all-lib\n\
                if nm -A -u src/interfaces/libpq/libpq.so.5.15 | grep -v -e __cxa_atexit -e ' atexit$' | grep exit; then echo 'libpq must not be calling any function which invokes exit'; exit 1; fi\n\
                touch src/interfaces/libpq/libpq-refs-stamp\n\
                make -C src/interfaces/libpq install DESTDIR=\"$DESTDIR\"\n\
                make -j\"$JOBS\" -C src/bin/pg_config install DESTDIR=\"$DESTDIR\"\n\
                make -C src/include install DESTDIR=\"$DESTDIR\"",
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
        header_only: false,
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
        header_only: false,
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
        header_only: false,
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
        header_only: false,
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
        header_only: false,
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
        header_only: false,
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
        header_only: false,
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
        header_only: false,
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
        header_only: false,
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
        header_only: false,
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
        header_only: false,
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
        header_only: false,
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
    PackRecipe {
        name: "qhull",
        version: "2020.2",
        url: "https://deb.debian.org/debian/pool/main/q/qhull/qhull_2020.2.orig.tar.gz",
        sha256: "b5c2d7eb833278881b952c8a52d20179eab87766b00b865000469a45c1838b7e",
        folder: "qhull-2020.2",
        depends: &[],
        link_env: &[],
        tools: &[],
        cpu: "",
        header_only: false,
        // libqhull_r, the reentrant library matplotlib links (its `system-qhull` option
        // asks pkg-config for qhull_r >= 8.0.2, the library version of release 2020.2).
        // Its 17 C files are compiled directly, as matplotlib's own wrap does: the CMake
        // project would also build the programs, the C++ library and the other variants.
        build: "cd src/libqhull_r\n\
                for f in *.c; do \"$CC\" -O2 -fPIC -c \"$f\" || exit 1; done\n\
                test \"$(ls *.o | wc -l)\" = 17\n\
                $(command -v s390x-linux-gnu-ar || echo ar) rcs libqhull_r.a *.o\n\
                mkdir -p \"$DESTDIR$PREFIX/lib/pkgconfig\" \"$DESTDIR$PREFIX/include/libqhull_r\"\n\
                cp libqhull_r.a \"$DESTDIR$PREFIX/lib/\"\n\
                cp *.h \"$DESTDIR$PREFIX/include/libqhull_r/\"\n\
                printf 'prefix=%s\\nlibdir=${prefix}/lib\\nincludedir=${prefix}/include\\n\\nName: qhull_r\\nDescription: Qhull reentrant static library\\nVersion: 8.0.2\\nLibs: -L${libdir} -lqhull_r\\nLibs.private: -lm\\nCflags: -I${includedir}\\n' \"$PREFIX\" > \"$DESTDIR$PREFIX/lib/pkgconfig/qhull_r.pc\"",
    },
    PackRecipe {
        name: "harfbuzz",
        version: "10.2.0",
        url: "https://deb.debian.org/debian/pool/main/h/harfbuzz/harfbuzz_10.2.0.orig.tar.xz",
        sha256: "620e3468faec2ea8685d32c46a58469b850ef63040b3565cde05959825b48227",
        folder: "harfbuzz-10.2.0",
        depends: &["freetype"],
        link_env: &[],
        tools: &[],
        cpu: "",
        header_only: false,
        // The text shaping library with its FreeType functions (hb-ft), as libraqm needs
        // it: upstream's single-file build (src/harfbuzz.cc includes every source; the
        // backends without their HAVE_* define compile to nothing) with the defines its
        // meson.build sets for glibc and for FreeType >= 2.11 (the pack's is 2.12.1), and
        // its C++ flags (no exceptions, RTTI or thread-safe statics, so nothing of a C++
        // runtime is needed). hb-features.h is written as meson writes it with only
        // FreeType on; the public headers are the ones meson installs.
        build: "cd src\n\
                sed -e 's/^#mesondefine HB_HAS_FREETYPE$/#define HB_HAS_FREETYPE 1/' -e 's|^#mesondefine \\(.*\\)$|/* #undef \\1 */|' hb-features.h.in > hb-features.h\n\
                \"$CXX\" -std=c++11 -O2 -fPIC -fno-exceptions -fno-rtti -fno-threadsafe-statics -DNDEBUG -DHAVE_FREETYPE=1 -DHAVE_FT_GET_VAR_BLEND_COORDINATES=1 -DHAVE_FT_SET_VAR_BLEND_COORDINATES=1 -DHAVE_FT_DONE_MM_VAR=1 -DHAVE_FT_GET_TRANSFORM=1 -DHAVE_PTHREAD=1 -DHAVE_UNISTD_H=1 -DHAVE_SYS_MMAN_H=1 -DHAVE_STDBOOL_H=1 -DHAVE_ATEXIT=1 -DHAVE_MPROTECT=1 -DHAVE_SYSCONF=1 -DHAVE_GETPAGESIZE=1 -DHAVE_MMAP=1 -DHAVE_ISATTY=1 -DHAVE_USELOCALE=1 -DHAVE_NEWLOCALE=1 -DHAVE_SINCOSF=1 -I\"$PACK_FREETYPE/include/freetype2\" -c harfbuzz.cc\n\
                $(command -v s390x-linux-gnu-ar || echo ar) rcs libharfbuzz.a harfbuzz.o\n\
                mkdir -p \"$DESTDIR$PREFIX/lib/pkgconfig\" \"$DESTDIR$PREFIX/include/harfbuzz\"\n\
                cp libharfbuzz.a \"$DESTDIR$PREFIX/lib/\"\n\
                cp hb-aat-layout.h hb-aat.h hb-blob.h hb-buffer.h hb-common.h hb-cplusplus.hh hb-deprecated.h hb-draw.h hb-paint.h hb-face.h hb-font.h hb-map.h hb-ot-color.h hb-ot-deprecated.h hb-ot-font.h hb-ot-layout.h hb-ot-math.h hb-ot-meta.h hb-ot-metrics.h hb-ot-name.h hb-ot-shape.h hb-ot-var.h hb-ot.h hb-set.h hb-shape-plan.h hb-shape.h hb-style.h hb-unicode.h hb.h hb-version.h hb-features.h hb-ft.h \"$DESTDIR$PREFIX/include/harfbuzz/\"\n\
                printf 'prefix=%s\\nlibdir=${prefix}/lib\\nincludedir=${prefix}/include\\n\\nName: harfbuzz\\nDescription: HarfBuzz text shaping library\\nVersion: 10.2.0\\nRequires: freetype2\\nLibs: -L${libdir} -lharfbuzz -lm\\nCflags: -I${includedir}/harfbuzz\\n' \"$PREFIX\" > \"$DESTDIR$PREFIX/lib/pkgconfig/harfbuzz.pc\"",
    },
    PackRecipe {
        name: "sheenbidi",
        version: "3.0.0",
        url: "https://deb.debian.org/debian/pool/main/s/sheenbidi/sheenbidi_3.0.0.orig.tar.xz",
        sha256: "c009ee6153991998f4fa42af7ca3b1494cb716522d85cf8ebd7b869f6a459301",
        folder: "sheenbidi-3.0.0",
        depends: &[],
        link_env: &[],
        tools: &[],
        cpu: "",
        header_only: false,
        // The Unicode bidirectional algorithm libraqm uses (matplotlib's choice over
        // FriBiDi): its unity build (Source/SheenBidi.c with SB_CONFIG_UNITY, as its
        // Makefile's release build and its meson `unity_mode` compile it), without the
        // experimental text API; sheenbidi.pc as its sheenbidi.pc.in says.
        build: "\"$CC\" -O2 -fPIC -DNDEBUG -DSB_CONFIG_UNITY -IHeaders -ISource -c Source/SheenBidi.c\n\
                $(command -v s390x-linux-gnu-ar || echo ar) rcs libSheenBidi.a SheenBidi.o\n\
                mkdir -p \"$DESTDIR$PREFIX/lib/pkgconfig\" \"$DESTDIR$PREFIX/include\"\n\
                cp libSheenBidi.a \"$DESTDIR$PREFIX/lib/\"\n\
                cp -r Headers/SheenBidi \"$DESTDIR$PREFIX/include/\"\n\
                printf 'prefix=%s\\nlibdir=${prefix}/lib\\nincludedir=${prefix}/include\\n\\nName: SheenBidi\\nDescription: Unicode Bidirectional Algorithm\\nVersion: 3.0.0\\nLibs: -L${libdir} -lSheenBidi\\nCflags: -I${includedir}\\n' \"$PREFIX\" > \"$DESTDIR$PREFIX/lib/pkgconfig/sheenbidi.pc\"",
    },
    PackRecipe {
        name: "raqm",
        version: "0.10.5",
        url: "https://deb.debian.org/debian/pool/main/r/raqm/raqm_0.10.5.orig.tar.xz",
        sha256: "563053e724892a7b037913110ea2daef50ad575d4fa9f7c368ae1e4515f5e856",
        folder: "raqm-0.10.5",
        depends: &["freetype", "harfbuzz", "sheenbidi"],
        link_env: &[],
        tools: &[],
        cpu: "",
        header_only: false,
        // libraqm (complex text layout: bidi, shaping, script itemization), which
        // matplotlib >= 3.11 lays its text out with (`system-libraqm` wants raqm >= 0.10.4),
        // with SheenBidi (>= 2.9: its headers under SheenBidi/) as matplotlib's own wrap
        // builds it; raqm-version.h written as its meson.build writes it. Its .pc file
        // names the packs it needs as public requirements: they are static, so an
        // extension links all of them.
        build: "cd src\n\
                sed -e 's/@RAQM_VERSION_MAJOR@/0/' -e 's/@RAQM_VERSION_MINOR@/10/' -e 's/@RAQM_VERSION_MICRO@/5/' -e 's/@RAQM_VERSION@/0.10.5/' raqm-version.h.in > raqm-version.h\n\
                \"$CC\" -O2 -fPIC -DNDEBUG -DRAQM_SHEENBIDI -DRAQM_SHEENBIDI_GT_2_9 -I. -I\"$PACK_SHEENBIDI/include\" -I\"$PACK_HARFBUZZ/include/harfbuzz\" -I\"$PACK_FREETYPE/include/freetype2\" -c raqm.c\n\
                $(command -v s390x-linux-gnu-ar || echo ar) rcs libraqm.a raqm.o\n\
                mkdir -p \"$DESTDIR$PREFIX/lib/pkgconfig\" \"$DESTDIR$PREFIX/include\"\n\
                cp libraqm.a \"$DESTDIR$PREFIX/lib/\"\n\
                cp raqm.h raqm-version.h \"$DESTDIR$PREFIX/include/\"\n\
                printf 'prefix=%s\\nlibdir=${prefix}/lib\\nincludedir=${prefix}/include\\n\\nName: raqm\\nDescription: A library for complex text layout\\nVersion: 0.10.5\\nRequires: harfbuzz sheenbidi freetype2\\nLibs: -L${libdir} -lraqm\\nCflags: -I${includedir}\\n' \"$PREFIX\" > \"$DESTDIR$PREFIX/lib/pkgconfig/raqm.pc\"",
    },
    PackRecipe {
        name: "xsimd",
        version: "14.3.0",
        url: "https://deb.debian.org/debian/pool/main/x/xsimd/libxsimd-dev_14.3.0-1_s390x.deb",
        sha256: "bff3f2489f78e6cc01f08637ecc0fe8bf97431fc0cade866b58baa82c39ccc73",
        folder: "usr",
        depends: &[],
        link_env: &[],
        tools: &[],
        cpu: "",
        header_only: true,
        // The header-only SIMD library Arrow C++ requires (>= 14.2: its CpuInfo is built on
        // xsimd's feature detection). The pool serves no orig tarball of 14.x (404), so the
        // headers and CMake files come from Debian's libxsimd-dev: the same upstream headers,
        // and the package is architecture-specific only by its pkgconfig folder. Debian
        // configured it with the xtl complex types, which its xsimdConfig.cmake then
        // requires from every user: turned off, as the pack has no xtl.
        build: "mkdir -p \"$DESTDIR$PREFIX/include\" \"$DESTDIR$PREFIX/share/cmake\" \"$DESTDIR$PREFIX/lib/pkgconfig\"\n\
                grep -q '^#define XSIMD_VERSION_MINOR 3$' include/xsimd/config/xsimd_config.hpp\n\
                cp -r include/xsimd \"$DESTDIR$PREFIX/include/\"\n\
                cp -r share/cmake/xsimd \"$DESTDIR$PREFIX/share/cmake/\"\n\
                sed -i 's/^        ON$/        OFF/' \"$DESTDIR$PREFIX/share/cmake/xsimd/xsimdConfig.cmake\"\n\
                grep -q '^        OFF$' \"$DESTDIR$PREFIX/share/cmake/xsimd/xsimdConfig.cmake\"\n\
                sed -e \"s|^prefix=.*|prefix=$PREFIX|\" -e 's|^libdir=.*|libdir=${prefix}/lib|' -e 's|^includedir=.*|includedir=${prefix}/include|' lib/s390x-linux-gnu/pkgconfig/xsimd.pc > \"$DESTDIR$PREFIX/lib/pkgconfig/xsimd.pc\"",
    },
    PackRecipe {
        name: "rapidjson",
        version: "1.1.0",
        url: "https://files.pythonhosted.org/packages/e1/45/7e2c05ef1c9357e22f1fc345fad41c24d50b9dfb6ac8104222987aef1f89/python_rapidjson-1.25.tar.gz",
        sha256: "97c1de449552ec28ac5ae89350c2b53e4c5d21a9b4308d7a1630b1099e5db9fc",
        folder: "python_rapidjson-1.25/rapidjson",
        depends: &[],
        link_env: &[],
        tools: &[],
        cpu: "",
        header_only: true,
        // The header-only JSON library Arrow's JSON reader uses. Debian's orig is the 2016
        // 1.1.0 release, which does not compile as C++20 without Debian's patches; the
        // python-rapidjson sdist carries upstream's later tree (still 1.1.0 by its version
        // macros) with those fixes, so its headers are the pack.
        build: "grep -q '^#define RAPIDJSON_MAJOR_VERSION 1$' include/rapidjson/rapidjson.h\n\
                mkdir -p \"$DESTDIR$PREFIX/include\" \"$DESTDIR$PREFIX/lib/pkgconfig\"\n\
                cp -r include/rapidjson \"$DESTDIR$PREFIX/include/\"\n\
                printf 'prefix=%s\\nincludedir=${prefix}/include\\n\\nName: RapidJSON\\nDescription: A fast JSON parser/generator for C++\\nVersion: 1.1.0\\nCflags: -I${includedir}\\n' \"$PREFIX\" > \"$DESTDIR$PREFIX/lib/pkgconfig/RapidJSON.pc\"",
    },
    PackRecipe {
        name: "crc32c",
        version: "1.1.0",
        url: "https://files.pythonhosted.org/packages/88/e2/35e3d09488b6a3c8616756afe25a7900ced75314caf224edcdbd3d2de5e7/py_bitcoinkernel-0.1.0a5.tar.gz",
        sha256: "71b91eecac7a8b07248be04471c3bf98016b38bf823aefd28f7b31179940520d",
        folder: "py_bitcoinkernel-0.1.0a5/depend/bitcoin/src/crc32c",
        depends: &[],
        // No CRC32C_INSTALL_PREFIX: setup.py would also write the pack's path into the
        // extension as its RUNPATH; CPATH and LDFLAGS find the pack.
        link_env: &[],
        tools: &[],
        cpu: "",
        header_only: false,
        // Google's crc32c library, which google-crc32c's C extension links. Neither Debian's
        // pool nor google-crc32c's sdist carries it; Bitcoin Core vendors it (a subtree of
        // google/crc32c, CMake project version 1.1.0) and the py-bitcoinkernel sdist
        // carries Bitcoin Core. The portable code only (the SSE4.2 and ARM64 files compile
        // to nothing elsewhere), with the defines its CMake probes would give for s390x:
        // big-endian (without it the 8-byte loads read the wrong byte order and every
        // checksum is wrong) and __builtin_prefetch. No C++ runtime is used: a C extension
        // links the archive.
        build: "grep -q '^project(Crc32c VERSION 1.1.0 ' CMakeLists.txt\n\
                for f in crc32c crc32c_portable; do \"$CXX\" -std=c++11 -O2 -fPIC -fno-exceptions -fno-rtti -DNDEBUG -DBYTE_ORDER_BIG_ENDIAN=1 -DHAVE_BUILTIN_PREFETCH=1 -DHAVE_MM_PREFETCH=0 -DHAVE_SSE42=0 -DHAVE_ARM64_CRC32C=0 -Iinclude -c src/$f.cc || exit 1; done\n\
                $(command -v s390x-linux-gnu-ar || echo ar) rcs libcrc32c.a crc32c.o crc32c_portable.o\n\
                mkdir -p \"$DESTDIR$PREFIX/lib/pkgconfig\" \"$DESTDIR$PREFIX/include/crc32c\"\n\
                cp libcrc32c.a \"$DESTDIR$PREFIX/lib/\"\n\
                cp include/crc32c/crc32c.h \"$DESTDIR$PREFIX/include/crc32c/\"\n\
                printf 'prefix=%s\\nlibdir=${prefix}/lib\\nincludedir=${prefix}/include\\n\\nName: crc32c\\nDescription: Google CRC32C library\\nVersion: 1.1.0\\nLibs: -L${libdir} -lcrc32c\\nCflags: -I${includedir}\\n' \"$PREFIX\" > \"$DESTDIR$PREFIX/lib/pkgconfig/crc32c.pc\"",
    },
    PackRecipe {
        name: "arrow-cpp",
        version: "25.0.0",
        url: "https://deb.debian.org/debian/pool/main/a/apache-arrow/apache-arrow_25.0.0.orig.tar.gz",
        sha256: "12afc2dc8137bdd4a68876cec939f664c9d55cfc7b75f55b45163ebb4e344d81",
        folder: "apache-arrow-25.0.0",
        depends: &["xsimd", "rapidjson", "lz4", "zstd"],
        // pyarrow's CMake (scikit-build-core reads CMAKE_ARGS): no SIMD level, as Arrow was
        // built (under the native frontend CMake runs on the host and would take its x86
        // flags), and the static libraries linked whole into libarrow_python.so (a shared
        // library; the Cython modules are shared modules, which this flag leaves alone):
        // the modules call Arrow directly and find it there, but the linker would only take
        // the archive members libarrow_python itself uses. -Bsymbolic: every module
        // carries its own libc++ (Zig), and lib.so, loaded first, would otherwise interpose
        // its default-visibility std:: vtables and typeinfo on libarrow_python's (a crash
        // at import; docs/pyarrow-s390x.md). Quoted as shlex reads it; Zig takes no file
        // names inside -Wl.
        link_env: &[(
            "CMAKE_ARGS",
            "-DCMAKE_SYSTEM_PROCESSOR=s390x -DARROW_SIMD_LEVEL=NONE -DARROW_RUNTIME_SIMD_LEVEL=NONE '-DCMAKE_SHARED_LINKER_FLAGS=-Wl,-Bsymbolic -Wl,--whole-archive $PREFIX/lib/libarrow_compute.a $PREFIX/lib/libarrow.a -Wl,--no-whole-archive'",
        )],
        tools: &[CMAKE],
        cpu: "",
        header_only: false,
        // Arrow C++ as pyarrow 25.0.0 needs it (compute, CSV, JSON, filesystem, IPC with
        // LZ4 and Zstandard buffers), static and position independent, so that pyarrow
        // links all of it into its one libarrow_python.so: Zig links a hidden libc++ copy
        // into every shared object, and an error message made in one libarrow*.so and
        // written in another would cross two copies (docs/pyarrow-s390x.md). Every
        // dependency from the packs (`ARROW_DEPENDENCY_SOURCE=SYSTEM`: nothing is
        // downloaded). Not built: Parquet (not supported on big-endian machines in Arrow
        // 25; Debian builds Arrow only for little-endian ones), RE2 and utf8proc (the
        // regex and Unicode string kernels), mimalloc and jemalloc (the system allocator).
        build: "cmake -G 'Unix Makefiles' -S cpp -B build -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=\"$PREFIX\" -DCMAKE_INSTALL_LIBDIR=lib -DCMAKE_C_COMPILER=s390x-linux-gnu-gcc -DCMAKE_CXX_COMPILER=s390x-linux-gnu-g++ -DCMAKE_SYSTEM_PROCESSOR=s390x -DCMAKE_PREFIX_PATH=\"$PACK_XSIMD;$PACK_RAPIDJSON\" -DARROW_DEPENDENCY_SOURCE=SYSTEM -DARROW_DEPENDENCY_USE_SHARED=OFF -DLZ4_ROOT=\"$PACK_LZ4\" -DZSTD_ROOT=\"$PACK_ZSTD\" -DARROW_BUILD_SHARED=OFF -DARROW_BUILD_STATIC=ON -DARROW_POSITION_INDEPENDENT_CODE=ON -DARROW_BUILD_TESTS=OFF -DARROW_BUILD_UTILITIES=OFF -DARROW_MIMALLOC=OFF -DARROW_JEMALLOC=OFF -DARROW_WITH_RE2=OFF -DARROW_WITH_UTF8PROC=OFF -DARROW_COMPUTE=ON -DARROW_CSV=ON -DARROW_FILESYSTEM=ON -DARROW_JSON=ON -DARROW_IPC=ON -DARROW_PARQUET=OFF -DARROW_WITH_LZ4=ON -DARROW_WITH_ZSTD=ON -DARROW_SIMD_LEVEL=NONE -DARROW_RUNTIME_SIMD_LEVEL=NONE\n\
                cmake --build build -j\"$JOBS\"\n\
                cmake --install build\n\
                test -f \"$DESTDIR$PREFIX/lib/libarrow.a\"\n\
                test -f \"$DESTDIR$PREFIX/lib/libarrow_compute.a\"\n\
                test -f \"$DESTDIR$PREFIX/lib/cmake/Arrow/ArrowConfig.cmake\"",
    },
];
