# Run by install(CODE) rules of packaging/CMakeLists.txt, at install time:
# configures a template with the paths of this installation -- the prefix
# given to `cmake --install --prefix`, or /usr when CPack builds the .deb --
# and installs the result (DESTDIR and the install manifest honoured).
#
# In:  AB_TEMPLATE     the template (@VAR@ substitutions only)
#      AB_OUTPUT_NAME  the installed file's name
#      AB_DESTINATION  its folder, relative to the prefix
#      AB_WORK_DIR     a build folder for the configured copy
#      AB_BINDIR, AB_LIBDIR, AB_INCLUDEDIR, AB_DOCDIR (relative to the prefix),
#      AB_CONFIG_PATH, AB_VERSION
# The template sees AB_PREFIX, AB_BIN_DIR, AB_LIB_DIR, AB_INCLUDE_DIR,
# AB_DOC_DIR (absolute), AB_PC_LIB_DIR, AB_PC_INCLUDE_DIR... (${prefix}/...,
# for pkg-config), AB_CONFIG_PATH and AB_VERSION.

foreach(var AB_TEMPLATE AB_OUTPUT_NAME AB_DESTINATION AB_WORK_DIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "install_configured.cmake: ${var} is not set")
  endif()
endforeach()

set(AB_PREFIX "${CMAKE_INSTALL_PREFIX}")
foreach(dir BIN LIB INCLUDE DOC)
  if(IS_ABSOLUTE "${AB_${dir}DIR}")
    set(AB_${dir}_DIR "${AB_${dir}DIR}")
    set(AB_PC_${dir}_DIR "${AB_${dir}DIR}")
  else()
    set(AB_${dir}_DIR "${AB_PREFIX}/${AB_${dir}DIR}")
    set(AB_PC_${dir}_DIR "\${prefix}/${AB_${dir}DIR}")
  endif()
endforeach()

# One copy per destination, so installs into several prefixes at once (a
# test's and CPack's) do not overwrite each other's file.
string(MD5 ab_key "$ENV{DESTDIR}|${AB_PREFIX}")
set(ab_out "${AB_WORK_DIR}/${ab_key}/${AB_OUTPUT_NAME}")
configure_file("${AB_TEMPLATE}" "${ab_out}" @ONLY)
file(INSTALL DESTINATION "${AB_PREFIX}/${AB_DESTINATION}" TYPE FILE
     PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ FILES "${ab_out}")
