//! Small builders shared by the migrations: named foreign keys and named
//! (unique) indexes, so every constraint in the schema has a stable name.

use sea_orm_migration::prelude::*;

/// A named foreign key `from_table.from_col -> to_table.to_col` with the given
/// `ON DELETE` action (`ON UPDATE` is left at the database default).
pub(crate) fn fk<FT, FC, TT, TC>(
    name: &str,
    from_table: FT,
    from_col: FC,
    to_table: TT,
    to_col: TC,
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement
where
    FT: IntoIden,
    FC: IntoIden,
    TT: IntoIden,
    TC: IntoIden,
{
    ForeignKey::create()
        .name(name)
        .from(from_table.into_iden(), from_col.into_iden())
        .to(to_table.into_iden(), to_col.into_iden())
        .on_delete(on_delete)
        .take()
}

/// A named, non-unique index over `cols` (in order).
pub(crate) fn index<T, C, I>(name: &str, table: T, cols: I) -> IndexCreateStatement
where
    T: IntoIden,
    C: IntoIden,
    I: IntoIterator<Item = C>,
{
    let mut stmt = Index::create();
    stmt.name(name).table(table.into_iden());
    for col in cols {
        stmt.col(col.into_iden());
    }
    stmt.take()
}

/// A named unique index over `cols` (in order).
pub(crate) fn unique<T, C, I>(name: &str, table: T, cols: I) -> IndexCreateStatement
where
    T: IntoIden,
    C: IntoIden,
    I: IntoIterator<Item = C>,
{
    index(name, table, cols).unique().take()
}
