#!/usr/bin/env bash
# Installs every build and test dependency of resnet-cli from Debian bookworm.
# Idempotent: installs only what is missing, and does nothing when all is there.
set -euo pipefail

packages=(
  # build
  cmake make g++ pkg-config ccache
  libtorch-dev libjpeg-dev libpng-dev libcli11-dev libspdlog-dev
  nlohmann-json3-dev libcurl4-openssl-dev libssl-dev
  # --version reads oneDNN's version from its header
  libdnnl-dev
  # the decoders' own libraries (src/image/formats/)
  libtiff-dev libgif-dev libwebp-dev libopenjp2-7-dev zlib1g-dev
  # serve: Boost.Beast and Boost.Asio (HTTP), Boost.URL (request targets),
  # header-only: a build dependency, not a runtime one
  libboost1.81-dev
  # videos (src/video/opencv/): OpenCV's videoio with its FFmpeg backend, and
  # FFmpeg's libavformat (libavcodec's packets) for the container's frame
  # table and messages
  libopencv-videoio-dev libopencv-core-dev libavformat-dev libavcodec-dev
  libavutil-dev
  # tests: Catch2, and the oracle (Debian's torchvision at /usr/bin/python3);
  # the video tests make their clips with ffmpeg and read them with cv2
  catch2 python3-torchvision python3-pil python3-numpy ffmpeg python3-opencv
  # explain's overlay test: matplotlib's viridis table (tests/oracle)
  python3-matplotlib
  # format_cases_bounded times resnet-cli with /usr/bin/time
  time
  # the Slurm test (tests/slurm): a one-host cluster, munge for its auth
  slurm-wlm munge
  # installing like a real tool (tests/install): the man page, the shell
  # completions, the Debian package (cpack's dpkg-shlibdeps, dpkg, lintian)
  man-db bash-completion zsh fish file dpkg-dev lintian
  # the report test: a real browser renders the page (headless)
  chromium
  # the sanitizer build and the fuzz targets (scripts/test-sanitizers.sh,
  # scripts/fuzz): clang, and its ASan, UBSan and libFuzzer runtimes
  clang libclang-rt-14-dev
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages are installed"
  exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then sudo=(sudo); fi
echo "install-deps: installing ${missing[*]}"
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
