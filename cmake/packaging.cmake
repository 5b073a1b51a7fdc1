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
# Each override says why it is there (packaging/lintian-overrides).
install(FILES packaging/lintian-overrides
        DESTINATION ${CMAKE_INSTALL_DATADIR}/lintian/overrides
        RENAME resnet-cli)

set(RESNET_CLI_PACKAGE_MAINTAINER
    "resnet-cli maintainers <maintainers@users.noreply.r-seed-b71cc046.example>"
    CACHE STRING "The Debian package's Maintainer field")
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME resnet-cli)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT ${RESNET_CLI_PACKAGE_MAINTAINER})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER ${RESNET_CLI_PACKAGE_MAINTAINER})
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Depends: what dpkg-shlibdeps finds the binary and the module linked with.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${RESNET_CLI_SUMMARY}")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "resnet-cli runs torchvision's ResNet family (ResNet18 to 152, ResNeXt, Wide
ResNet) on LibTorch with torchvision's preprocessing bit for bit, so that it
gives the answers Python gives: classify images, files and folders to text,
JSON, JSON Lines or CSV, shard a run over machines and merge the parts, and
download and verify the weights into torch.hub's cache, shared with Python.
It includes the resnet-cli(1) man page and bash, zsh and fish completions.")
include(CPack)
