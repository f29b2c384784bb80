################################################################################
#
# Outpost BR2_EXTERNAL tree: pulls in the tree's packages.
#
################################################################################

include $(sort $(wildcard $(BR2_EXTERNAL_OUTPOST_PATH)/package/*/*.mk))
