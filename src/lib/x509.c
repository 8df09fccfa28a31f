#include "x509.h"
