#ifndef WEAVE_CMARIADB_SHIM_H
#define WEAVE_CMARIADB_SHIM_H
// MariaDB Connector/C (Debian: libmariadb-dev); its pkg-config file adds -I/usr/include/mariadb.
#include <mysql.h>
#endif
