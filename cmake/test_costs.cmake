# About the seconds the longest discovered tests take on 2 cores (CI's plain suite). ctest starts
# tests in descending order of COST, so these run beside the many short tests rather than after
# them; on a clean clone ctest has no record of its own yet (Testing/Temporary/CTestCostData.txt
# replaces these after a first run). Included by CTestTestfile.cmake after the discovered tests
# (CMakeLists.txt); a name no test has is ignored. The tests CMakeLists.txt adds itself (the
# server's) get their COST there: this file is read before them.
set_tests_properties(ShapesSmolModelTest.MatchesTheTestAccuracyTransformersRecorded PROPERTIES COST 150)
set_tests_properties([[HeldOutSets/ShapesModelTest.MatchesTheAccuracyTransformersRecorded/"test"]]
                     PROPERTIES COST 41)
set_tests_properties(SmolLm2ModelTest.GreedyContinuationsAndLogitsEqualFloat32Transformers
                     PROPERTIES COST 17)
set_tests_properties(SmolLm2ModelTest.GreedyContinuationsEqualLlamaCppsInFloat32 PROPERTIES COST 14)
set_tests_properties(JinjaRendererTest.RunawayLoopsHitALimit PROPERTIES COST 14)
set_tests_properties(SmolLm2ModelTest.Bf16AndInt8KeepTheFirstGreedyTokens PROPERTIES COST 13)
set_tests_properties([[HeldOutSets/ShapesModelTest.MatchesTheAccuracyTransformersRecorded/"eval"]]
                     PROPERTIES COST 12)
set_tests_properties(SmolLm2ModelTest.Q4PromptLogitsWithinThreePercentOfFloat32 PROPERTIES COST 11)
set_tests_properties(JinjaRendererTest.MutatedTemplatesRenderOrFailCleanly PROPERTIES COST 10)
set_tests_properties(EvalCliTest.SweepResumesFromItsJournal PROPERTIES COST 9)
