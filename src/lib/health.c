#include "health.h"
