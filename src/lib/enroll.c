#include "enroll.h"
