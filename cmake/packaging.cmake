# What `cmake --install` puts beside the binary, and the Debian package that
# `cpack -G DEB` makes of the same install tree (packaging/ holds the
# package's copyright and changelog; tests/package checks the result with
# dpkg and lintian).

include(GNUInstallDirs)
set(RESNET_CLI_DOC_DIR ${CMAKE_INSTALL_DATADIR}/doc/resnet-cli)
set(RESNET_CLI_CHANGELOG_GZ ${CMAKE_BINARY_DIR}/packaging/changelog.gz)
add_custom_command(
  OUTPUT ${RESNET_CLI_CHANGELOG_GZ}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/packaging
  # -n: no name or time stamp in the archive (lintian, reproducibility).
  COMMAND ${RESNET_CLI_GZIP} -9n -c ${PROJECT_SOURCE_DIR}/packaging/changelog
          > ${RESNET_CLI_CHANGELOG_GZ}
  DEPENDS ${PROJECT_SOURCE_DIR}/packaging/changelog
  COMMENT "Compressing the changelog")
add_custom_target(resnet_cli_changelog ALL DEPENDS ${RESNET_CLI_CHANGELOG_GZ})
install(FILES README.md packaging/copyright ${RESNET_CLI_CHANGELOG_GZ}
        DESTINATION ${RESNET_CLI_DOC_DIR})

# What only the package holds, in a component of its own that
# `cmake --install` leaves out (EXCLUDE_FROM_ALL) and cpack installs (below):
# a systemd unit for `resnet-cli serve`, disabled, naming the package's
# binary. A `cmake --install` into ~/.local has no use for a system unit.
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(RESNET_CLI_UNIT_BINARY ${CPACK_PACKAGING_INSTALL_PREFIX}/bin/resnet-cli)
configure_file(packaging/resnet-cli.service.in
               ${CMAKE_BINARY_DIR}/packaging/resnet-cli.service @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/packaging/resnet-cli.service
        DESTINATION lib/systemd/system
        COMPONENT debian EXCLUDE_FROM_ALL)

set(RESNET_CLI_PACKAGE_MAINTAINER
    "resnet-cli maintainers <maintainers@users.noreply.r-seed-b71cc046.example>"
    CACHE STRING "The Debian package's Maintainer field")
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME resnet-cli)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT ${RESNET_CLI_PACKAGE_MAINTAINER})
set(CPACK_STRIP_FILES ON)
# The default install (every install() without a component) and the
# package-only files.
set(CPACK_INSTALL_CMAKE_PROJECTS
    "${CMAKE_BINARY_DIR};${PROJECT_NAME};Unspecified;/"
    "${CMAKE_BINARY_DIR};${PROJECT_NAME};debian;/")
# Maintainer scripts of our own (packaging/postinst, prerm, postrm: the
# unit's state and daemon-reload). Giving postinst and postrm also keeps
# CPack from writing its own, which call ldconfig for any shared object
# under /usr/lib, here the private module nobody links against.
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/packaging/postinst
    ${PROJECT_SOURCE_DIR}/packaging/prerm
    ${PROJECT_SOURCE_DIR}/packaging/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER ${RESNET_CLI_PACKAGE_MAINTAINER})
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Depends: what dpkg-shlibdeps finds the binary and the module linked with.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${RESNET_CLI_SUMMARY}")
# The extended description: every command, in lines under 80 characters.
# (CPack puts the summary above it.)
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "resnet-cli runs torchvision's ResNet family (ResNet18 to 152, ResNeXt, Wide
ResNet) on LibTorch, with torchvision's preprocessing bit for bit, so that
it gives the answers Python gives, without Python:
 - classify: images, folders, file lists and videos to text, JSON, JSON
   Lines, CSV or TSV (probabilities, logits or embeddings, activation maps
   with --explain), resumable, sharded over machines (Slurm, Kubernetes)
   and joined again with merge;
 - evaluate: acc@1, acc@5, per-class figures and the confusion matrix of a
   labelled ImageFolder tree; report: an HTML page of a run's results;
 - train: fine-tune fc, layer4 or the whole network on class folders as a
   PyTorch script does, writing what torch.save writes; quantize: int8
   post-training quantization, as PyTorch's;
 - serve: an HTTP server speaking TorchServe's inference API (a disabled
   systemd unit, resnet-cli.service, is included);
 - weights: list, download, verify the weights in torch.hub's cache, which
   it shares with Python; bench and preprocess for measuring and checking.
It includes the resnet-cli(1) man page and bash, zsh and fish completions.")
include(CPack)
