#include "reservoir/program/header.h"

namespace reservoir::program {

ModelConfig ToModelConfig(const Header& header) {
  ModelConfig config;
  config.normal_pages = header.normal_pages;
  config.highmem_pages = header.highmem_pages;
  config.max_order = header.max_order;
  config.min_free_kbytes = header.min_free_kbytes;
  config.nr_cpus = header.nr_cpus;
  config.slab_policy = header.slab_policy;
  config.estimator = header.estimator;
  config.audit = header.audit;
  return config;
}

}  // namespace reservoir::program
