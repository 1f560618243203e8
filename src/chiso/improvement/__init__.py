""""Phiếu cải thiện chỉ số": one XLSX per unit and month, what the unit must do to gain points and places.

Read from the marts only (rpt_unit_improvement, rpt_unit_improvement_plan, dim_periods, dim_units) on a read-only
connection; written under the data folder ($CHISO_HOME/phieu/<YYYY-MM>/<unit_code>.xlsx) by the DAG
`write_improvement_sheets` after the marts are published, and by `chiso phieu write`; `chiso phieu list` lists them.
"""
