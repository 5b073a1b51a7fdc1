// Boost.URL, compiled into this library (Debian ships its headers only).
#include <boost/url/src.hpp>
