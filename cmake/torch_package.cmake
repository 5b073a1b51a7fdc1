# LibTorch straight from an installed PyTorch's torch/ folder (a pip wheel's
# include/ and lib/), without Torch's CMake config: that config wants a CUDA
# toolkit and cuDNN where it can find them (FindCUDA, CUDAToolkit) to
# configure at all, although resnet-cli compiles no CUDA code and only links
# the libraries, which find their CUDA runtime through their own RUNPATH.
#
# In: RESNET_CLI_TORCH_PACKAGE, e.g. .../site-packages/torch. Out: what
# find_package(Torch) gives the rest of the build: TORCH_LIBRARIES,
# TORCH_CXX_FLAGS, Torch_VERSION, Torch_DIR, and a torch_cuda target when
# the package has CUDA.
set(package ${RESNET_CLI_TORCH_PACKAGE})
if(NOT EXISTS ${package}/include/torch/torch.h AND
   NOT EXISTS ${package}/include/torch/csrc/api/include/torch/torch.h)
  message(FATAL_ERROR "RESNET_CLI_TORCH_PACKAGE=${package}: no include/ "
                      "with LibTorch's headers there")
endif()
file(STRINGS ${package}/version.py version_line REGEX "^__version__")
string(REGEX MATCH "[0-9]+\\.[0-9]+\\.[0-9]+" Torch_VERSION "${version_line}")
set(Torch_DIR ${package})

add_library(resnet_cli_torch_package INTERFACE)
target_include_directories(resnet_cli_torch_package SYSTEM INTERFACE
  ${package}/include ${package}/include/torch/csrc/api/include)
foreach(name torch torch_cpu c10)
  find_library(RESNET_CLI_TORCH_${name} NAMES ${name} PATHS ${package}/lib
               NO_DEFAULT_PATH REQUIRED)
  target_link_libraries(resnet_cli_torch_package INTERFACE
                        ${RESNET_CLI_TORCH_${name}})
endforeach()
find_library(RESNET_CLI_TORCH_torch_cuda NAMES torch_cuda
             PATHS ${package}/lib NO_DEFAULT_PATH)
if(RESNET_CLI_TORCH_torch_cuda)
  find_library(RESNET_CLI_TORCH_c10_cuda NAMES c10_cuda PATHS ${package}/lib
               NO_DEFAULT_PATH REQUIRED)
  # What `if(TARGET torch_cuda)` asks elsewhere (CUDA built, --no-as-needed).
  add_library(torch_cuda INTERFACE IMPORTED)
  target_link_libraries(resnet_cli_torch_package INTERFACE
    ${RESNET_CLI_TORCH_torch_cuda} ${RESNET_CLI_TORCH_c10_cuda})
endif()
# The package's libraries beside the binary's module at run time.
target_link_options(resnet_cli_torch_package INTERFACE
                    "LINKER:-rpath,${package}/lib")
set(TORCH_LIBRARIES resnet_cli_torch_package)
# pip's LibTorch 2.x uses the C++11 string ABI, the compiler's default.
set(TORCH_CXX_FLAGS "-D_GLIBCXX_USE_CXX11_ABI=1")
message(STATUS "resnet-cli: LibTorch ${Torch_VERSION} from the package "
               "${package} (without Torch's CMake config)")
